namespace StatusData.Migrations.Tests;

/// <summary>The test classes that start a pg_auto_failover cluster run alone, one at a time (see <see cref="AutoFailoverCluster.TestCollection"/>).</summary>
[CollectionDefinition(AutoFailoverCluster.TestCollection, DisableParallelization = true)]
public sealed class AutoFailoverClusterTestGroup;
