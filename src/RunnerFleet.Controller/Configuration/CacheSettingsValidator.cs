using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Configuration;

/// <summary>Checks a pool's <c>Cache</c> section; every message names its key.</summary>
internal static class CacheSettingsValidator
{
    public static IEnumerable<string> Validate(CacheSettings s, string key)
    {
        var seen = new List<string>();
        for (var i = 0; i < s.Paths.Count; i++)
        {
            var path = s.Paths[i];
            if (string.IsNullOrWhiteSpace(path) || !path.StartsWith('/') || path.TrimEnd('/').Length == 0
                || path.Split('/').Any(part => part is "." or "..") || path.IndexOfAny([',', ':', '\0']) >= 0)
            {
                yield return $"{key}:Paths:{i} must be an absolute guest path other than / without '.', '..', ',' or ':' parts (was '{path}').";
                continue;
            }

            var normal = path.TrimEnd('/');
            if (seen.FirstOrDefault(p => p == normal || p.StartsWith(normal + "/", StringComparison.Ordinal) || normal.StartsWith(p + "/", StringComparison.Ordinal)) is { } other)
            {
                yield return $"{key}:Paths:{i} '{path}' is or holds another cached path ('{other}'): list each folder once.";
            }

            seen.Add(normal);
        }

        if (!Enum.IsDefined(s.Scope))
        {
            yield return $"{key}:Scope must be Repository or Pool (was '{s.Scope}').";
        }

        if (s.Scope == CacheScope.Pool && s.Repositories.Count == 0)
        {
            yield return $"{key}:Repositories must list the repositories that may write to a pool-wide cache (Scope: Pool shares one cache among every repository the pool serves).";
        }

        for (var i = 0; i < s.Repositories.Count; i++)
        {
            if (!GitHub.RepositoryNames.IsValidRepository(s.Repositories[i]))
            {
                yield return $"{key}:Repositories:{i} must be a repository, owner/name (was '{s.Repositories[i]}').";
            }
        }

        if (s.MaxSizeMb < 1)
        {
            yield return $"{key}:MaxSizeMb must be at least 1 (was {s.MaxSizeMb}).";
        }

        if (s.MaxAge <= TimeSpan.Zero)
        {
            yield return $"{key}:MaxAge must be positive (was {s.MaxAge}).";
        }

        if (s.Uid < 0 || s.Gid < 0)
        {
            yield return $"{key}:Uid and Gid must not be negative (were {s.Uid}, {s.Gid}).";
        }
    }
}
