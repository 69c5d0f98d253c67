namespace RunnerFleet.AppHost;

/// <summary>
/// The sandbox under Aspire: the simulators as a resource of their own (GitHub and Hetzner Cloud, with a stream
/// of synthetic jobs), and the controller with simulated in-process runners pointed at them, with the same
/// pools as <c>dotnet run --project src/RunnerFleet.Sandbox</c>. No account, no Docker engine needed.
/// </summary>
internal static class SandboxFleet
{
    public static readonly string[] Repositories = ["sandbox/web", "sandbox/api", "sandbox/mobile"];

    public static readonly string[] Pools = ["linux-x64", "linux-large", "linux-arm64", "linux-arm64-emulated"];

    public static IResourceBuilder<ProjectResource> AddController(IDistributedApplicationBuilder builder)
    {
        var simulators = builder.AddProject<Projects.RunnerFleet_Sandbox>("simulators")
            .WithArgs(["--simulators-only", "--with-hetzner", "--synthetic-jobs", .. Repositories.SelectMany(r => new[] { "--repository", r })])
            .WithHttpEndpoint(name: "http")
            .WithHttpHealthCheck("/")
            .WithIconName("BeakerEdit");
        var api = simulators.GetEndpoint("http");

        // A fresh store each run: the simulators keep their state in memory.
        var store = Path.Combine(Path.GetTempPath(), $"runnerfleet-apphost-{Environment.ProcessId}.db");
        var controller = builder.AddProject<Projects.RunnerFleet_Sandbox>("controller")
            .WithArgs("--controller")
            .WithHttpEndpoint(name: "http")
            .WithEnvironment("GitHub__ApiUrl", api)
            .WithEnvironment("GitHub__Token", "sandbox-token")
            .WithEnvironment("GitHub__PollInterval", "00:00:02")
            .WithEnvironment("Hetzner__ApiUrl", ReferenceExpression.Create($"{api}/v1"))
            .WithEnvironment("Hetzner__Token", "sandbox-hcloud-token")
            .WithEnvironment("Fleet__Name", "sandbox")
            .WithEnvironment("Fleet__PlanInterval", "00:00:02")
            .WithEnvironment("ConnectionStrings__Fleet", $"Data Source={store}")
            .WaitFor(simulators);
        for (var i = 0; i < Repositories.Length; i++)
        {
            controller.WithEnvironment($"GitHub__Repositories__{i}", Repositories[i]);
        }

        // The sandbox's pools: x64 runners (JIT and registration token), ARM64 on the Hetzner simulator with an
        // emulated overflow, all simulated in the controller's process.
        Pool(controller, 0, "linux-x64", "inprocess", 4, ["linux", "x64"]);
        Pool(controller, 1, "linux-large", "inprocess", 2, ["linux", "x64", "large"], ("Registration", "RegistrationToken"));
        Pool(controller, 2, "linux-arm64", "hetzner", 3, ["linux", "arm64"], ("Overflow", "linux-arm64-emulated"),
            ("Hetzner__ServerTypes__0", "cax21"), ("Hetzner__ServerTypes__1", "cax31"), ("Hetzner__Locations__0", "fsn1"), ("Hetzner__Locations__1", "nbg1"));
        Pool(controller, 3, "linux-arm64-emulated", "inprocess", 2, ["linux", "arm64"]);
        return controller;
    }

    private static void Pool(IResourceBuilder<ProjectResource> controller, int index, string name, string provider, int max, string[] labels, params (string Key, string Value)[] more)
    {
        var prefix = $"Fleet__Pools__{index}__";
        controller.WithEnvironment(prefix + "Name", name)
            .WithEnvironment(prefix + "Provider", provider)
            .WithEnvironment(prefix + "MaxRunners", max.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment(prefix + "BootTimeout", "00:01:00");
        for (var i = 0; i < labels.Length; i++)
        {
            controller.WithEnvironment($"{prefix}Labels__{i}", labels[i]);
        }

        foreach (var (key, value) in more)
        {
            controller.WithEnvironment(prefix + key, value);
        }
    }
}
