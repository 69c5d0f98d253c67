using Microsoft.Extensions.Options;

namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>Checks <c>Qemu</c> at start.</summary>
internal sealed class QemuOptionsValidator : IValidateOptions<QemuOptions>
{
    public ValidateOptionsResult Validate(string? name, QemuOptions options)
    {
        List<string> errors = [];
        if (options.MaxVms < 1)
        {
            errors.Add($"Qemu:MaxVms must be at least 1 (was {options.MaxVms}).");
        }

        if (string.IsNullOrWhiteSpace(options.StateDirectory) || !Path.IsPathFullyQualified(options.StateDirectory))
        {
            errors.Add($"Qemu:StateDirectory must be an absolute path (was '{options.StateDirectory}').");
        }

        errors.AddRange(options.AllowedHostPorts.Where(p => p is < 1 or > 65535).Select(p => $"Qemu:AllowedHostPorts must be TCP ports 1-65535 (was {p})."));
        if (!options.ForwardCommand.Contains("{port}", StringComparison.Ordinal) || options.ForwardCommand.Contains(',', StringComparison.Ordinal))
        {
            errors.Add($"Qemu:ForwardCommand must contain {{port}} and no comma (was '{options.ForwardCommand}').");
        }

        if (options.ShutdownGrace < TimeSpan.Zero || options.ShutdownGrace > TimeSpan.FromMinutes(10))
        {
            errors.Add($"Qemu:ShutdownGrace must be between 0 and 10 minutes (was {options.ShutdownGrace}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
