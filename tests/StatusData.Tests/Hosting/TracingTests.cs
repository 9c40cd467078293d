using System.Diagnostics;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace StatusData.Tests.Hosting;

/// <summary>
/// The spans of the <c>StatusData</c> ActivitySource, collected by OpenTelemetry's in-memory exporter with
/// Npgsql's own instrumentation (<c>AddNpgsql()</c>) as in docs/observability.md. Each test starts its own
/// root span and only traces under such a root are sampled, so calls of classes running in parallel are not exported.
/// </summary>
public sealed class TracingTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>, IAsyncLifetime, IDisposable
{
    private static readonly ActivitySource TestSource = new("StatusData.Tests.Tracing");

    private readonly List<Activity> _exported = [];
    private TracerProvider? _tracing;

    public async ValueTask InitializeAsync()
    {
        _tracing = Sdk.CreateTracerProviderBuilder()
            .SetSampler(new ParentBasedSampler(new TestRootsOnly()))
            .AddSource(TestSource.Name)
            .AddSource(StatusDataTelemetry.ActivitySourceName)
            .AddNpgsql()
            .AddInMemoryExporter(_exported)
            .Build();

        // Test-only: a profile update whose display name starts with "sleep:" sleeps on the server.
        await Sql.ExecuteAsync(database.DataSource, """
            CREATE OR REPLACE FUNCTION tracing_sleep_users() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.display_name LIKE 'sleep:%' THEN PERFORM pg_sleep(30); END IF;
                RETURN NEW;
            END $$;
            CREATE OR REPLACE TRIGGER tracing_sleep BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION tracing_sleep_users();
            """);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public void Dispose() => _tracing?.Dispose();

    [Fact]
    public async Task EachCallIsOneSpanNamedByItsOperationWithNpgsqlsCommandAsItsChild()
    {
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        using (var root = TestSource.StartActivity("test"))
        {
            var user = await db.Users.CreateAsync(name, "Traced", Unique.Email(name), "hash", null, Ct);
            Assert.Same(root, Activity.Current); // the call's span does not leak into the caller's context
            await db.Users.GetByIdAsync(user.Id, Ct);
            await db.StatusUpdates.PostAsync(user.Id, "hello", "general", 5, null, Ct);
            await db.StatusUpdates.GetFeedAsync(10, null, Ct);
            await db.Users.GetWithStatusUpdatesAsync(user.Id, Ct);
            Assert.Same(root, Activity.Current);
        }

        var spans = Ours();
        Assert.Equal(
            [
                ("statusdata.create_user", "written"),
                ("statusdata.get_user", "not_written"),
                ("statusdata.post", "written"),
                ("statusdata.get_feed", "not_written"),
                ("statusdata.get_user_with_status_updates", "not_written"),
            ],
            spans.Select(s => (s.OperationName, Outcome(s))));
        Assert.All(spans, s =>
        {
            Assert.Equal(ActivityStatusCode.Unset, s.Status);
            Assert.Null(s.GetTagItem("error.type"));
            Assert.Equal(ActivityKind.Internal, s.Kind);
            Assert.Contains(_exported, child => child.Source.Name == "Npgsql" && child.ParentSpanId == s.SpanId);
        });
    }

    [Fact]
    public async Task AFailedCallRecordsTheErrorTypeAndThatNothingWasWritten()
    {
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var missing = Guid.NewGuid();
        using (TestSource.StartActivity("test"))
        {
            var user = await db.Users.CreateAsync(name, "Failing", Unique.Email(name), "hash", null, Ct);
            await Assert.ThrowsAsync<UserNotFoundException>(() => db.StatusUpdates.PostAsync(missing, "nobody", "general", 1, null, Ct));
            await Assert.ThrowsAsync<DuplicateValueException>(() => db.Users.CreateAsync(name, "Again", Unique.Email(Unique.Name()), "hash", null, Ct));
            await Assert.ThrowsAsync<ArgumentException>(() => db.Users.CreateAsync("", "Empty", Unique.Email(Unique.Name()), "hash", null, Ct));
            Assert.False(await db.StatusUpdates.DeleteAsync(missing, Ct));
        }

        var spans = Ours();
        Assert.Equal(
            [
                ("statusdata.create_user", "written", null),
                ("statusdata.post", "not_written", "StatusData.UserNotFoundException"),
                ("statusdata.create_user", "not_written", "StatusData.DuplicateValueException"),
                ("statusdata.create_user", "not_written", "System.ArgumentException"),
                ("statusdata.delete_status_update", "not_written", null),
            ],
            spans.Select(s => (s.OperationName, Outcome(s), (string?)s.GetTagItem("error.type"))));

        var notFound = spans[1];
        Assert.Equal(ActivityStatusCode.Error, notFound.Status);
        Assert.Equal($"User {missing} does not exist. Nothing was written.", notFound.StatusDescription);
        Assert.Contains(notFound.Events, e => e.Name == "exception");

        // Argument checks fail before any I/O: a span, but no Npgsql command under it.
        Assert.DoesNotContain(_exported, child => child.ParentSpanId == spans[3].SpanId);
        Assert.Equal(ActivityStatusCode.Unset, spans[4].Status);
    }

    [Fact]
    [Trait("Category", "Slow")] // waits out a one-second command timeout
    public async Task AWriteWhoseConnectionBrokeBeforeItsAnswerIsUnknown()
    {
        // Command Timeout 1 s against a 30 s trigger; Cancellation Timeout -1 makes Npgsql drop the connection
        // at the timeout instead of waiting for the server's cancellation: the write was sent, its answer never came.
        await using var dataSource = Backends.Create(database.ConnectionString, out _, b =>
        {
            b.CommandTimeout = 1;
            b.CancellationTimeout = -1;
        });
        var db = new StatusDatabase(dataSource);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, "Before", Unique.Email(name), "hash", null, Ct);
        TransientDatabaseException error;
        using (TestSource.StartActivity("test"))
        {
            error = await Assert.ThrowsAsync<TransientDatabaseException>(() => db.Users.UpdateProfileAsync(user.Id, "sleep: slow", Unique.Email(name), null, Ct));
        }

        Assert.True(error.OutcomeUnknown, error.ToString());
        var span = Assert.Single(Ours());
        Assert.Equal(("statusdata.update_profile", "unknown", "StatusData.TransientDatabaseException"), (span.OperationName, Outcome(span), (string?)span.GetTagItem("error.type")));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
    }

    [Fact]
    public async Task WritesInATransactionAreWrittenPendingTheCommitWhichHasItsOwnSpan()
    {
        var db = new StatusDatabase(database.DataSource);
        var name = Unique.Name();
        var user = await db.Users.CreateAsync(name, "Tx", Unique.Email(name), "hash", null, Ct);
        using (TestSource.StartActivity("test"))
        {
            await using (var transaction = await db.BeginTransactionAsync(Ct))
            {
                await transaction.StatusUpdates.PostAsync(user.Id, "in a transaction", "general", 3, null, Ct);
                await transaction.CommitAsync(Ct);
            }

            await using (var transaction = await db.BeginTransactionAsync(Ct))
            {
                await transaction.Users.SetPasswordHashAsync(user.Id, "other", Ct);
                await transaction.RollbackAsync(Ct);
            }
        }

        var spans = Ours();
        Assert.Equal(
            [
                ("statusdata.begin_transaction", "not_written", null),
                ("statusdata.post", "written", true),
                ("statusdata.commit", "written", true),
                ("statusdata.begin_transaction", "not_written", null),
                ("statusdata.set_password_hash", "written", true),
                ("statusdata.rollback", "not_written", true),
            ],
            spans.Select(s => (s.OperationName, Outcome(s), (bool?)s.GetTagItem("statusdata.in_transaction"))));
        Assert.Equal("hash", await Sql.ScalarAsync<string>(database.DataSource, "SELECT password_hash FROM users WHERE id = $1", user.Id));
    }

    /// <summary>StatusData's spans of the test's trace, in start order.</summary>
    private List<Activity> Ours()
    {
        _tracing!.ForceFlush();
        var root = _exported.Last(a => a.Source == TestSource);
        return _exported
            .Where(a => a.Source.Name == StatusDataTelemetry.ActivitySourceName && a.TraceId == root.TraceId)
            .OrderBy(a => a.StartTimeUtc)
            .ToList();
    }

    private static string? Outcome(Activity span) => (string?)span.GetTagItem(StatusDataTelemetry.OutcomeTag);

    /// <summary>Samples the roots this class starts; everything else only through its parent.</summary>
    private sealed class TestRootsOnly : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
            new(samplingParameters.Name == "test" ? SamplingDecision.RecordAndSample : SamplingDecision.Drop);
    }
}
