using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace StatusData.Benchmarks.Infrastructure;

/// <summary>
/// A transparent TCP proxy in front of the PostgreSQL server that counts network round trips: each
/// time a client sends bytes after the server has spoken (or for the first time on a connection), the
/// client has had to wait for an answer before going on, and that is one round trip. Bytes a client
/// sends while still waiting (pipelining, COPY data) belong to the same round trip; so do the TCP
/// segments of one flush. Nothing is parsed, so it counts what a network would see, TLS included.
/// </summary>
internal sealed class RoundTripProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly EndPoint _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;
    private long _roundTrips;

    public RoundTripProxy(string serverConnectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(serverConnectionString);
        var host = builder.Host ?? "localhost";
        var port = builder.Port;
        _server = host.StartsWith('/')
            ? new UnixDomainSocketEndPoint(Path.Combine(host, $".s.PGSQL.{port}"))
            : IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
        _listener.Start();
        builder.Host = "127.0.0.1";
        builder.Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        builder.ApplicationName = "statusdata-bench-roundtrips";
        ConnectionString = builder.ConnectionString;
        _accepting = AcceptAsync();
    }

    /// <summary>The server's connection string with the proxy's address instead.</summary>
    public string ConnectionString { get; }

    /// <summary>Round trips counted since the last <see cref="Reset"/>, over every connection.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    public void Reset() => Interlocked.Exchange(ref _roundTrips, 0);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }

        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default)));
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            var relay = RelayAsync(client);
            lock (_connections)
            {
                _connections.Add(relay);
            }
        }
    }

    private async Task RelayAsync(Socket client)
    {
        using var clientSocket = client;
        using var serverSocket = _server is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        clientSocket.NoDelay = true;
        if (_server is not UnixDomainSocketEndPoint)
        {
            serverSocket.NoDelay = true;
        }

        await serverSocket.ConnectAsync(_server, _stop.Token);

        // 1 while the server has answered since the client's last flight: the client's next bytes start a round trip.
        var serverSpoke = 1;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var upstream = PumpAsync(clientSocket, serverSocket, () =>
        {
            if (Interlocked.Exchange(ref serverSpoke, 0) == 1)
            {
                Interlocked.Increment(ref _roundTrips);
            }
        }, done.Token);
        var downstream = PumpAsync(serverSocket, clientSocket, () => Volatile.Write(ref serverSpoke, 1), done.Token);
        await Task.WhenAny(upstream, downstream);
        await done.CancelAsync();
        try
        {
            await Task.WhenAll(upstream, downstream);
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, Action onData, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }

            // Counted before forwarding: the other side cannot answer bytes it has not received yet.
            onData();
            var sent = 0;
            while (sent < read)
            {
                sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, cancellationToken);
            }
        }
    }
}
