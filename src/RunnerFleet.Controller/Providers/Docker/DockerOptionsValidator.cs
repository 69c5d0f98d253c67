using Microsoft.Extensions.Options;

namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>Checks <c>Docker</c> at start.</summary>
internal sealed class DockerOptionsValidator : IValidateOptions<DockerOptions>
{
    public ValidateOptionsResult Validate(string? name, DockerOptions options)
    {
        List<string>? errors = null;
        void Fail(string message) => (errors ??= []).Add(message);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Endpoints.Count; i++)
        {
            var e = options.Endpoints[i];
            if (string.IsNullOrWhiteSpace(e.Name) || !names.Add(e.Name))
            {
                Fail($"Docker:Endpoints:{i}:Name must be set and unique (was '{e.Name}').");
            }

            if (e.Uri is null || e.Uri.Scheme is not ("unix" or "tcp" or "http" or "https" or "npipe"))
            {
                Fail($"Docker:Endpoints:{i}:Uri must be unix:///path or tcp://host:port (was '{e.Uri}').");
            }

            if (e.IsTcp && e.CertPath is null && !e.AllowPlainTcp)
            {
                Fail($"Docker:Endpoints:{i}:CertPath must name a folder with ca.pem, cert.pem and key.pem for the TCP engine {e.Uri} (mutual TLS); set Docker:Endpoints:{i}:AllowPlainTcp=true only for an engine no one else can reach.");
            }

            if (e.CertPath is { } certs)
            {
                foreach (var file in new[] { "ca.pem", "cert.pem", "key.pem" }.Where(f => !File.Exists(Path.Combine(certs, f))))
                {
                    Fail($"Docker:Endpoints:{i}:CertPath has no {file} (looked in '{certs}').");
                }

                if (!e.IsTcp)
                {
                    Fail($"Docker:Endpoints:{i}:CertPath is for tcp:// engines (was given for '{e.Uri}').");
                }
            }

            if (e.MaxRunners < 1)
            {
                Fail($"Docker:Endpoints:{i}:MaxRunners must be at least 1 (was {e.MaxRunners}).");
            }
        }

        for (var i = 0; i < options.AllowedHostPorts.Count; i++)
        {
            if (options.AllowedHostPorts[i] is < 1 or > 65535)
            {
                Fail($"Docker:AllowedHostPorts:{i} must be a TCP port 1-65535 (was {options.AllowedHostPorts[i]}).");
            }
        }

        for (var i = 0; i < options.AllowedNetworks.Count; i++)
        {
            if (!System.Net.IPNetwork.TryParse(options.AllowedNetworks[i], out var n) || n.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                Fail($"Docker:AllowedNetworks:{i} must be an IPv4 network in CIDR form, e.g. 10.1.2.3/32 (was '{options.AllowedNetworks[i]}').");
            }
        }

        if (!Version.TryParse(options.ApiVersion, out _))
        {
            Fail($"Docker:ApiVersion must look like 1.41 (was '{options.ApiVersion}').");
        }

        return errors is { Count: > 0 } ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
