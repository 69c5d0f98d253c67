namespace RunnerFleet.Sandbox.Hetzner;

/// <summary>Hetzner's label selector language: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k</c>, <c>!k</c>, <c>k in (a,b)</c>, <c>k notin (a,b)</c>, comma-joined (AND).</summary>
public static class LabelSelector
{
    public static bool Matches(string? selector, IReadOnlyDictionary<string, string> labels)
    {
        if (string.IsNullOrWhiteSpace(selector))
        {
            return true;
        }

        foreach (var term in Split(selector))
        {
            if (!MatchesTerm(term.Trim(), labels))
            {
                return false;
            }
        }

        return true;
    }

    private static bool MatchesTerm(string term, IReadOnlyDictionary<string, string> labels)
    {
        if (term.Contains(" notin ", StringComparison.Ordinal) || term.Contains(" in ", StringComparison.Ordinal))
        {
            var negate = term.Contains(" notin ", StringComparison.Ordinal);
            var parts = term.Split(negate ? " notin " : " in ", 2);
            var values = parts[1].Trim().TrimStart('(').TrimEnd(')').Split(',', StringSplitOptions.TrimEntries);
            var has = labels.TryGetValue(parts[0].Trim(), out var v) && values.Contains(v);
            return negate ? !has : has;
        }

        if (term.Contains("!=", StringComparison.Ordinal))
        {
            var p = term.Split("!=", 2);
            return !labels.TryGetValue(p[0].Trim(), out var v) || v != p[1].Trim();
        }

        if (term.Contains('=', StringComparison.Ordinal))
        {
            var p = term.Split(term.Contains("==", StringComparison.Ordinal) ? "==" : "=", 2);
            return labels.TryGetValue(p[0].Trim(), out var v) && v == p[1].Trim();
        }

        return term.StartsWith('!') ? !labels.ContainsKey(term[1..]) : labels.ContainsKey(term);
    }

    /// <summary>Splits on commas outside parentheses.</summary>
    private static IEnumerable<string> Split(string selector)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < selector.Length; i++)
        {
            depth += selector[i] switch { '(' => 1, ')' => -1, _ => 0 };
            if (selector[i] == ',' && depth == 0)
            {
                yield return selector[start..i];
                start = i + 1;
            }
        }

        yield return selector[start..];
    }
}
