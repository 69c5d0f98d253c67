using Microsoft.Extensions.DependencyInjection;
using Quartz;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>Registers the loops as Quartz jobs with the configured intervals (in-memory store: one controller).</summary>
public static class SchedulingExtensions
{
    public static IServiceCollection AddFleetLoops(this IServiceCollection services, FleetOptions fleet, GitHubOptions github)
    {
        services.AddSingleton<FleetSignals>();
        services.AddSingleton<IFleetSignals>(sp => sp.GetRequiredService<FleetSignals>());
        services.AddQuartz(q =>
        {
            q.SchedulerName = "runnerfleet";
            q.UseInMemoryStore();
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

    private static void Loop<T>(IServiceCollectionQuartzConfigurator q, JobKey key, TimeSpan interval) where T : IJob
    {
        q.AddJob<T>(j => j.WithIdentity(key).StoreDurably());
        q.AddTrigger(t => t.ForJob(key).WithIdentity(key.Name + "-every", key.Group).StartNow()
            .WithSimpleSchedule(s => s.WithInterval(interval).RepeatForever().WithMisfireHandlingInstructionNextWithRemainingCount()));
    }
}
