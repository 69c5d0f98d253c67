using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace RunnerFleet.Controller.Caching;

/// <summary>
/// The Linux file system calls a cache merge needs and .NET does not offer: <c>statx</c> (file type, device numbers
/// of an overlayfs whiteout, owner), <c>link</c> (a generation shares its predecessor's unchanged files),
/// <c>lchown</c>, extended attributes (overlayfs's opaque marker) and <c>syncfs</c>. statx's buffer has one layout on
/// every architecture (linux/include/uapi/linux/stat.h), unlike <c>struct stat</c>.
/// </summary>
internal static partial class NativeFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const int ENODATA = 61;
    private const int ENOENT = 2;

    /// <summary>What <c>statx</c> says of a path (not following a final symlink).</summary>
    public readonly record struct FileStat(uint Mode, uint Uid, uint Gid, long Size, ulong Inode, long MtimeSeconds, uint RdevMajor, uint RdevMinor)
    {
        private const uint TypeMask = 0xF000;

        public bool IsDirectory => (Mode & TypeMask) == 0x4000;

        public bool IsRegular => (Mode & TypeMask) == 0x8000;

        public bool IsSymlink => (Mode & TypeMask) == 0xA000;

        /// <summary>setuid or setgid: never kept in a cache a later job runs files from.</summary>
        public bool IsSetId => (Mode & 0xC00) != 0;

        /// <summary>overlayfs's whiteout: a character device 0/0 in the upper layer stands for a deleted file (Documentation/filesystems/overlayfs.rst).</summary>
        public bool IsWhiteout => (Mode & TypeMask) == 0x2000 && RdevMajor == 0 && RdevMinor == 0;

        public UnixFileMode Permissions => (UnixFileMode)(Mode & 0xFFF);
    }

    /// <summary>The path's <see cref="FileStat"/>, or null when it does not exist.</summary>
    public static FileStat? Stat(string path)
    {
        Span<byte> b = stackalloc byte[256];
        if (StatX(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, b) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENOENT or 20 /* ENOTDIR */ ? null : throw Error("statx", path, errno);
        }

        // struct statx: stx_uid @20, stx_gid @24, stx_mode @28 (u16), stx_ino @32, stx_size @40, stx_mtime.tv_sec @112, stx_rdev_major @128, stx_rdev_minor @132.
        return new FileStat(
            BinaryPrimitives.ReadUInt16LittleEndian(b[28..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(b[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(b[32..]),
            BinaryPrimitives.ReadInt64LittleEndian(b[112..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[128..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[132..]));
    }

    /// <summary>A hard link: <paramref name="target"/> becomes another name of <paramref name="existing"/> (a symlink itself, not what it points to).</summary>
    public static void Link(string existing, string target)
    {
        if (LinkNative(existing, target) != 0)
        {
            throw Error("link", target, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>rename(2): atomically replaces <paramref name="target"/> (a symlink is moved, never followed).</summary>
    public static void Rename(string existing, string target)
    {
        if (RenameNative(existing, target) != 0)
        {
            throw Error("rename", target, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Sets owner and group, of a symlink itself when it is one.</summary>
    public static void Chown(string path, uint uid, uint gid)
    {
        if (LChown(path, uid, gid) != 0)
        {
            throw Error("lchown", path, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>An extended attribute's value as text, or null when the path has none of that name.</summary>
    public static string? GetAttribute(string path, string name)
    {
        Span<byte> value = stackalloc byte[256];
        var n = LGetXAttr(path, name, value, (nuint)value.Length);
        if (n < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENODATA or 95 /* EOPNOTSUPP */ ? null : throw Error("lgetxattr", path, errno);
        }

        return Encoding.UTF8.GetString(value[..(int)n]);
    }

    /// <summary>Removes the extended attributes overlayfs leaves on what it copied up (<c>trusted.overlay.*</c>, <c>user.overlay.*</c>).</summary>
    public static void RemoveOverlayAttributes(string path)
    {
        Span<byte> names = stackalloc byte[4096];
        var n = LListXAttr(path, names, (nuint)names.Length);
        if (n <= 0)
        {
            return;
        }

        foreach (var name in Encoding.UTF8.GetString(names[..(int)n]).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            if ((name.StartsWith("trusted.overlay.", StringComparison.Ordinal) || name.StartsWith("user.overlay.", StringComparison.Ordinal))
                && LRemoveXAttr(path, name) != 0 && Marshal.GetLastPInvokeError() is not ENODATA and var errno)
            {
                throw Error("lremovexattr", path, errno);
            }
        }
    }

    /// <summary>Writes the file system holding <paramref name="path"/> to disk (what a new generation needs before it becomes current).</summary>
    public static void SyncFileSystem(string path)
    {
        var fd = Open(path, 0 /* O_RDONLY: works for folders too */);
        if (fd < 0)
        {
            throw Error("open", path, Marshal.GetLastPInvokeError());
        }

        try
        {
            if (SyncFs(fd) != 0)
            {
                throw Error("syncfs", path, Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static IOException Error(string call, string path, int errno) => new($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int dirfd, string path, int flags, uint mask, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkNative(string oldPath, string newPath);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameNative(string oldPath, string newPath);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint LGetXAttr(string path, string name, Span<byte> value, nuint size);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint LListXAttr(string path, Span<byte> list, nuint size);

    [LibraryImport("libc", EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LRemoveXAttr(string path, string name);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
