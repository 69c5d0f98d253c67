using Microsoft.Extensions.DependencyInjection;
using Quartz;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>
/// Registers the loops as Quartz jobs with the configured intervals. With the SQLite store they run in
/// memory (one controller). With PostgreSQL, Quartz's clustered ADO.NET job store in the same database
/// shares them: every loop runs on one controller at a time (each job disallows concurrent execution,
/// which the cluster honours), a node that stops checking in has its work taken over by the others.
/// </summary>
internal static class SchedulingExtensions
{
    /// <summary>How often a clustered controller checks in; after <see cref="ClusterMisfireThreshold"/> without, the others take its work.</summary>
    public static readonly TimeSpan ClusterCheckinInterval = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan ClusterMisfireThreshold = TimeSpan.FromSeconds(10);

    /// <param name="clusterConnectionString">The PostgreSQL store's connection string, to cluster; null to run in memory.</param>
    public static IServiceCollection AddFleetLoops(this IServiceCollection services, FleetOptions fleet, GitHubOptions github, string? clusterConnectionString = null)
    {
        services.AddSingleton<FleetSignals>();
        services.AddSingleton<IFleetSignals>(sp => sp.GetRequiredService<FleetSignals>());
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s => s.InstanceName = $"runnerfleet-{fleet.Name}");
            if (clusterConnectionString is null)
            {
                q.UseInMemoryStore();
            }
            else
            {
                q.ConfigureScheduler(s => s.GenerateInstanceId = true);
                q.UsePersistentStore(s =>
                {
                    s.UsePostgres(clusterConnectionString);
                    // Quartz's own tables, made by the first controller to start (the store's migrations leave them to Quartz).
                    s.ProvisionSchema();
                    s.UseClustering(c =>
                    {
                        c.CheckinInterval = ClusterCheckinInterval;
                        c.CheckinMisfireThreshold = ClusterMisfireThreshold;
                    });
                    s.UseSystemTextJsonSerializer();
                    s.ConfigureStore(o => o.DbRetryInterval = TimeSpan.FromSeconds(2));
                });
            }

            q.UseDefaultThreadPool(tp => tp.MaxConcurrency = 8);
            if (github.PollInterval > TimeSpan.Zero)
            {
                Loop<PollGitHubJob>(q, PollGitHubJob.Key, github.PollInterval);
            }
            else
            {
                q.AddJob<PollGitHubJob>(j => j.WithIdentity(PollGitHubJob.Key).StoreDurably());
            }

            Loop<PlanAndProvisionJob>(q, PlanAndProvisionJob.Key, fleet.PlanInterval);
            Loop<ReapJob>(q, ReapJob.Key, fleet.ReapInterval);
            Loop<ReconcileJob>(q, ReconcileJob.Key, fleet.ReconcileInterval);
        });
        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        return services;
    }

    private static void Loop<T>(IQuartzBuilder q, JobKey key, TimeSpan interval) where T : IJob
    {
        q.AddJob<T>(j => j.WithIdentity(key).StoreDurably());
        q.AddTrigger(t => t.ForJob(key).WithIdentity(key.Name + "-every", key.Group).StartNow()
            .WithSimpleSchedule(s => s.WithInterval(interval).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)));
    }
}
