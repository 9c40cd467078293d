using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using DotNet.Testcontainers.Configurations;

namespace StatusData.Testing.Internal;

/// <summary>
/// Removes the containers of test processes on this host that were killed before they could remove their own.
/// Testcontainers' own answer is Ryuk, a reaper container it starts beside the first one; but Ryuk's image must
/// be pulled from a registry, which CI machines and offline developers often cannot reach (they set
/// <c>TESTCONTAINERS_RYUK_DISABLED=true</c>). So every container is labelled with its owner (host and pid), and
/// each start removes the labelled containers whose owner is gone. The Docker client is the one Testcontainers
/// depends on (Docker.DotNet.Enhanced), configured from Testcontainers' own endpoint settings: the same engine
/// the containers run on, and no package reference of ours.
/// </summary>
internal static class ContainerSweep
{
    public const string Label = "org.statusdata.testing";

    public const string HostLabel = "org.statusdata.testing.host";

    public const string ProcessLabel = "org.statusdata.testing.pid";

    /// <summary>The labels of a container owned by this process.</summary>
    public static IReadOnlyDictionary<string, string> OwnLabels { get; } = new Dictionary<string, string>
    {
        [Label] = "true",
        [HostLabel] = Ownership.HostName,
        [ProcessLabel] = Ownership.ProcessId.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Removes every labelled container of this host whose owner process is gone.</summary>
    /// <returns>How many were removed.</returns>
    public static async Task<int> RemoveDeadOwnersAsync(CancellationToken cancellationToken)
    {
        // No engine found: nothing to sweep, and starting the container reports it.
        if (TestcontainersSettings.OS.DockerEndpointAuthConfig is not { } endpoint)
        {
            return 0;
        }

        using var docker = endpoint.GetDockerClientBuilder().Build();
        var filters = new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [$"{Label}=true"] = true, [$"{HostLabel}={Ownership.HostName}"] = true },
        };
        var removed = 0;
        foreach (var container in await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filters }, cancellationToken).ConfigureAwait(false))
        {
            if (container.Labels.TryGetValue(ProcessLabel, out var owner)
                && int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Ownership.IsGone(pid))
            {
                try
                {
                    await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken).ConfigureAwait(false);
                    removed++;
                }
                catch (DockerContainerNotFoundException)
                {
                    // Another process's sweep removed it first.
                }
            }
        }

        return removed;
    }
}
