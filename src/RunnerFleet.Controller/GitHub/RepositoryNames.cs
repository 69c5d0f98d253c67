using System.Text.RegularExpressions;

namespace RunnerFleet.Controller.GitHub;

/// <summary>
/// What an owner and a repository name may be before either goes into a URL path: GitHub's own character sets
/// (letters, digits, '-', and '.' '_' in repository names), never '.' or '..' as a segment, never a '/' more.
/// </summary>
internal static partial class RepositoryNames
{
    public static bool IsValidOwner(string? owner) => owner is { Length: > 0 and <= 100 } && OwnerPattern().IsMatch(owner);

    public static bool IsValidRepository(string? fullName) =>
        fullName?.Split('/') is [var owner, var name] && IsValidOwner(owner) && name is { Length: > 0 and <= 100 } and not ("." or "..") && NamePattern().IsMatch(name);

    /// <summary>A scope is an organization (owner) or a repository (owner/name).</summary>
    public static bool IsValidScope(string? scope) => scope is not null && (scope.Contains('/', StringComparison.Ordinal) ? IsValidRepository(scope) : IsValidOwner(scope));

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex OwnerPattern();

    [GeneratedRegex("^[A-Za-z0-9._-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
