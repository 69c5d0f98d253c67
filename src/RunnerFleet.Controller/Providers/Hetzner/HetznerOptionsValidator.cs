using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>Checks <c>Hetzner</c> at start: a token is needed once any pool uses the provider.</summary>
internal sealed class HetznerOptionsValidator(IOptions<FleetOptions> fleet) : IValidateOptions<HetznerOptions>
{
    public ValidateOptionsResult Validate(string? name, HetznerOptions options)
    {
        List<string>? errors = null;
        var pools = fleet.Value.Pools;
        for (var i = 0; i < pools.Count; i++)
        {
            if (string.Equals(pools[i].Provider, HetznerProvider.KindName, StringComparison.OrdinalIgnoreCase) && string.IsNullOrWhiteSpace(options.Token))
            {
                (errors ??= []).Add($"Hetzner:Token is missing: pool {pools[i].Name} (Fleet:Pools:{i}) uses the hetzner provider.");
                break;
            }
        }

        if (!options.ApiUrl.IsAbsoluteUri || options.ApiUrl.Scheme is not ("http" or "https"))
        {
            (errors ??= []).Add($"Hetzner:ApiUrl must be an absolute http(s) URL (was '{options.ApiUrl}').");
        }

        if (options.ServerListMaxAge <= TimeSpan.Zero || options.ServerListMaxAge > HetznerOptions.ServerListMaxAgeLimit)
        {
            (errors ??= []).Add($"Hetzner:ServerListMaxAge must be more than 0 and at most {HetznerOptions.ServerListMaxAgeLimit} (was {options.ServerListMaxAge}): a server that stopped is seen only when the list is read again.");
        }

        if (options.ActionPollInterval <= TimeSpan.Zero)
        {
            (errors ??= []).Add($"Hetzner:ActionPollInterval must be more than 0 (was {options.ActionPollInterval}).");
        }

        return errors is { Count: > 0 } ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
