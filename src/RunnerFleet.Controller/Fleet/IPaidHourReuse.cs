namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Settings of a pool whose machines are billed by the started hour and handed to a new runner within that hour
/// (the planner reads them from <see cref="PoolDefinition.ProviderSettings"/>).
/// </summary>
internal interface IPaidHourReuse
{
    /// <summary>
    /// How much of its paid hour must be left for a runner on a handed-over machine to go on waiting for a job (a job
    /// it took later would run into the next hour); null when the pool does not hand machines over.
    /// </summary>
    TimeSpan? WaitsWhileHourLeaves { get; }
}
