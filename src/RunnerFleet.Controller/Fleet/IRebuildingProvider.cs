namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// A provider whose resource can be made new for another runner instead of being destroyed: a Hetzner server, rebuilt
/// from its pool's image within the hour its billing already paid for. The new runner gets a new root disk (nothing of
/// the previous job survives), a new name and a new GitHub identity; only the machine and its paid hour carry over.
/// </summary>
internal interface IRebuildingProvider
{
    /// <summary>
    /// Whether the pool asks for it and the resource, billed since <paramref name="billedSince"/>, has room in its paid
    /// hour for another job at <paramref name="now"/>.
    /// </summary>
    bool MayRebuild(PoolDefinition pool, DateTimeOffset billedSince, DateTimeOffset now);

    /// <summary>
    /// Whether a rebuilt resource may serve any job of the pool (true), or only jobs of the repository its last job came
    /// from (false, the default: then only runners registered to one repository are rebuilt, since GitHub gives a
    /// runner registered to an organization any of its repositories' jobs).
    /// </summary>
    bool RebuildServesWholePool(PoolDefinition pool);

    /// <summary>
    /// Makes <paramref name="resource"/> new for <paramref name="launch"/>: a new root disk from the pool's image, labelled
    /// as the new runner, booted with its registration. Returns when the provider says it is done; a
    /// <see cref="ProviderException"/> when it could not be (the caller then destroys the resource).
    /// </summary>
    Task<ProvisionedRunner> RebuildAsync(ProvisionedRunner resource, RunnerLaunch launch, CancellationToken ct);
}
