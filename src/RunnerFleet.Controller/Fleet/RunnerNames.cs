using System.Security.Cryptography;
using System.Text;

namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Runner names: "{fleet}-{pool}-{suffix}", at most 64 characters of [a-z0-9-], valid as a GitHub runner
/// name, a container name and a hostname. The name is made once and kept on the record, so a retry reuses it.
/// </summary>
internal static class RunnerNames
{
    public static string Prefix(string fleet) => Sanitize(fleet) + "-";

    public static string Create(string fleet, string pool)
    {
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        var head = $"{Sanitize(fleet)}-{Sanitize(pool)}";
        if (head.Length > 53)
        {
            head = head[..53].TrimEnd('-');
        }

        return $"{head}-{suffix}";
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
