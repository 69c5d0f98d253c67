namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Where runners run. Every resource a provider makes carries this fleet's labels (fleet, pool, runner
/// name), so <see cref="ListAsync"/> finds it again after a controller restart.
/// </summary>
internal interface IRunnerProvider
{
    /// <summary>The kind pools name it by (<c>Fleet:Pools:N:Provider</c>).</summary>
    string Kind { get; }

    /// <summary>Creates and starts the runner. Idempotent by <see cref="RunnerLaunch.Name"/>: a resource that already exists is returned.</summary>
    Task<ProvisionedRunner> CreateAsync(RunnerLaunch launch, CancellationToken ct);

    /// <summary>Destroys the runner's resource. Idempotent: already gone is success.</summary>
    Task DestroyAsync(ProvisionedRunner runner, CancellationToken ct);

    /// <summary>Every resource carrying this fleet's labels.</summary>
    IAsyncEnumerable<ProvisionedRunner> ListAsync(CancellationToken ct);

    /// <summary>
    /// When what <see cref="ListAsync"/> last returned was read from the provider, for a provider that shares one
    /// list for a while (Hetzner's request budget); null when every list is read live. A resource made after this
    /// time may be missing from the list without being gone.
    /// </summary>
    DateTimeOffset? ListedAt => null;
}
