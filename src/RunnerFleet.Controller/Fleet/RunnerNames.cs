using System.Security.Cryptography;
using System.Text;

namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Runner names: "{fleet}-{pool}-{suffix}", at most 63 characters of [a-z0-9-], valid as a GitHub runner
/// name, a container name, a hostname and a Hetzner label value (RFC 1123 labels and Hetzner's label values
/// stop at 63). The name is made once and kept on the record, so a retry reuses it.
/// </summary>
internal static class RunnerNames
{
    /// <summary>The longest a name may be: a DNS label, a hostname, a Hetzner label value.</summary>
    public const int MaxLength = 63;

    private const int MaxHead = MaxLength - 11;

    public static string Prefix(string fleet) => Sanitize(fleet) + "-";

    public static string Create(string fleet, string pool) => $"{Head(fleet, pool)}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}";

    /// <summary>
    /// Whether <paramref name="name"/> is a runner of this fleet: exactly "{fleet}-{pool}-{10 hex}" for one of its
    /// pools. Not a prefix match: fleet "prod" must never take (and delete) fleet "prod-eu"'s runners.
    /// </summary>
    public static bool IsOf(string fleet, IEnumerable<string> pools, string? name) => PoolOf(fleet, pools, name) is not null;

    /// <summary>The pool (of <paramref name="pools"/>) whose runner <paramref name="name"/> is, by the exact name shape; null when none.</summary>
    public static string? PoolOf(string fleet, IEnumerable<string> pools, string? name)
    {
        if (name is null || name.Length < 12 || name[^11] != '-' || !name[^10..].All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            return null;
        }

        var head = name[..^11];
        return pools.FirstOrDefault(p => string.Equals(Head(fleet, p), head, StringComparison.Ordinal));
    }

    private static string Head(string fleet, string pool)
    {
        var head = $"{Sanitize(fleet)}-{Sanitize(pool)}";
        // 52 + "-" + 10 hex = 63.
        return head.Length > MaxHead ? head[..MaxHead].TrimEnd('-') : head;
    }

    public static string Sanitize(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value.ToLowerInvariant())
        {
            sb.Append(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-');
        }

        return sb.ToString().Trim('-');
    }
}
