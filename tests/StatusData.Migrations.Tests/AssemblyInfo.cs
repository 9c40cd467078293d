// One PostgreSQL per test run, stopped (and its folder deleted) when the run ends.
[assembly: AssemblyFixture(typeof(PostgresServerFixture))]
