using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace StatusData.Tests.Security;

/// <summary>
/// Every SQL text in src/ is a compile-time constant. Roslyn compiles src/ against the real Npgsql, Dapper
/// and FluentMigrator assemblies, so a call is known by the method it binds to, not by its name: every
/// argument for one of their SQL parameters (NpgsqlCommand's cmdText, Dapper's sql, CommandDefinition's
/// commandText, COPY's copyFromCommand, Execute.Sql's sqlStatement, …) and every CommandText assignment
/// must be constant, or be a string parameter of our own method, whose callers are then held to the same
/// rule. As a second net, no interpolated or concatenated string that starts like a statement is built
/// anywhere. CA2100 (.editorconfig) sees only NpgsqlCommand.
/// </summary>
public sealed partial class SqlIsConstantTests
{
    /// <summary>Methods allowed to build SQL from values, with the reason. Each entry must still be needed.</summary>
    private static readonly Dictionary<(string File, string Method), string> Allowed = new()
    {
        [("ScriptRenderer.cs", "Render")] =
            "renders a psql script for people (the CLI's 'script' command), never executed; the one value is the lock timeout the migrator formatted as whole milliseconds",
        [("FluentMigratorServices.cs", "BeginTransaction")] =
            "SET LOCAL takes no bind parameters; the value is the lock timeout the migrator formatted itself as whole milliseconds",
        [("FluentMigratorServices.cs", "Generate")] =
            "FluentMigrator's generator: DROP INDEX CONCURRENTLY, which FluentMigrator lacks, with the index name quoted by FluentMigrator's own PostgresQuoter, as its DROP INDEX does",
        [("ApplicationRole.cs", "GrantAsync")] =
            "runs the statements the server built with format('%I') from the role name, which goes in as a parameter",
        [("DatabaseCommands.cs", "CreateAsync")] =
            "StatusData.Testing's CREATE DATABASE … TEMPLATE: identifiers cannot be parameters; the names are its own, checked against ^[a-z0-9_]+$",
        [("DatabaseCommands.cs", "DropAsync")] =
            "StatusData.Testing's DROP DATABASE … WITH (FORCE): identifiers cannot be parameters; the names are its own, checked against ^[a-z0-9_]+$",
        [("SchemaComparison.cs", "CompareAsync")] =
            "runs the SQL FluentMigrator generates for our own migrations, in a scratch schema it rolls back",
    };

    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => !Path.GetFileName(path).StartsWith("StatusData", StringComparison.OrdinalIgnoreCase)) // src/ is compiled from source
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToArray());

    public static TheoryData<string> Unsafe =>
    [
        """void M(NpgsqlConnection c, string id) { using var command = new NpgsqlCommand($"SELECT * FROM users WHERE id = {id}", c); }""",
        """Task M(NpgsqlConnection c, string id) => c.QueryAsync<int>("SELECT xp FROM users WHERE id = " + id);""",
        """void M(NpgsqlCommand command, string name) { var sql = "DELETE FROM users"; command.CommandText = sql + " WHERE name = " + name; }""",
        """void M(NpgsqlDataSource d, string table) { var sql = string.Format("SELECT * FROM {0}", table); using var command = d.CreateCommand(sql); }""",
        """Task M(NpgsqlConnection c, string table) => c.BeginBinaryImportAsync("COPY " + table + " FROM STDIN (FORMAT BINARY)");""",
        """void Run(NpgsqlConnection c, string sql) => new NpgsqlCommand(sql, c).ExecuteNonQuery(); void M(NpgsqlConnection c) => Run(c, Console.ReadLine()!);""",
        """public Task<int> RunAsync(NpgsqlConnection c, string sql) => c.ExecuteAsync(sql);""",
        """sealed class M(string name) : Migration { public override void Up() => Execute.Sql($"CREATE TABLE {name} (id int)"); public override void Down() { } }""",
        """string Where(string x) => "SELECT * FROM users WHERE id = " + x;""",
    ];

    public static TheoryData<string> Safe =>
    [
        """Task M(NpgsqlConnection c, int id) { const string sql = "SELECT xp FROM users WHERE id = @id"; return c.QueryAsync<int>(new CommandDefinition(sql, new { id })); }""",
        """const string Columns = "id, xp"; void M(NpgsqlConnection c) { using var command = new NpgsqlCommand("SELECT " + Columns + " FROM users WHERE id = $1", c); }""",
        """void Run(NpgsqlConnection c, string sql) => new NpgsqlCommand(sql, c).ExecuteNonQuery(); void M(NpgsqlConnection c) => Run(c, "TRUNCATE users");""",
        """void M(string paramName) => throw new ArgumentException($"{paramName}: SELECT something else.", paramName);""",
    ];

    [Fact]
    [Trait("Category", "Slow")] // compiles all of src/ with Roslyn, about 5 s
    public void EverySqlTextInSrcIsAConstant()
    {
        var src = Path.Combine(RepositoryRoot(), "src");
        var trees = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Intersect(["obj", "bin"]).Any())
            .Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), ParseOptions, f))
            .ToList();

        var (findings, sinks) = Scan(trees);

        var unexplained = findings.Where(f => !Allowed.ContainsKey((f.File, f.Method))).Select(f => f.Text).ToList();
        Assert.True(unexplained.Count == 0, string.Join('\n', unexplained));
        var unneeded = Allowed.Keys.Except(findings.Select(f => (f.File, f.Method))).ToList();
        Assert.True(unneeded.Count == 0, "allowed, but no longer needed (remove from the list): " + string.Join(", ", unneeded));
        TestContext.Current.TestOutputHelper?.WriteLine($"{trees.Count} files, {sinks} places that send SQL; allowed:\n{string.Join('\n', findings.Select(f => f.Text))}");

        // The test really looked: the library and the runner send SQL from dozens of places.
        Assert.True(sinks >= 30, $"only {sinks} places that send SQL were found; are the SQL parameters still recognized?");
    }

    [Theory]
    [MemberData(nameof(Unsafe))]
    public void SqlBuiltFromValuesIsReported(string member) =>
        Assert.NotEmpty(Scan([Sample(member)]).Findings);

    [Theory]
    [MemberData(nameof(Safe))]
    public void ConstantSqlAndOtherInterpolationAreNotReported(string member)
    {
        var (findings, _) = Scan([Sample(member)]);
        Assert.True(findings.Count == 0, string.Join('\n', findings.Select(f => f.Text)));
    }

    private static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Latest);

    /// <summary>The SQL texts that are not constants, and how many places send SQL.</summary>
    private static (List<Finding> Findings, int Sinks) Scan(IReadOnlyList<SyntaxTree> trees)
    {
        // What <ImplicitUsings> gives every project of the SDK.
        var implicitUsings = CSharpSyntaxTree.ParseText(
            "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;",
            ParseOptions);
        var compilation = CSharpCompilation.Create(
            "src",
            [.. trees, implicitUsings],
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        // Without correct binding every check below would pass vacuously. CS8795 and CS0762: the bodies of the
        // [LoggerMessage] methods, which a source generator not run here writes.
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id is not ("CS8795" or "CS0762")).ToList();
        Assert.True(errors.Count == 0, string.Join('\n', errors));

        // Our methods that pass a string parameter on as SQL count as sinks too; found until none is added.
        var wrappers = new HashSet<IParameterSymbol>(SymbolEqualityComparer.Default);
        while (true)
        {
            var findings = new List<Finding>();
            var sinks = 0;
            var before = wrappers.Count;
            foreach (var tree in trees)
            {
                var model = compilation.GetSemanticModel(tree);
                foreach (var node in tree.GetRoot().DescendantNodes())
                {
                    foreach (var sql in SqlArguments(model.GetOperation(node), wrappers))
                    {
                        sinks++;
                        if (sql.ConstantValue.HasValue)
                        {
                            continue;
                        }

                        if (Unwrap(sql) is IParameterReferenceOperation { Parameter: { Type.SpecialType: SpecialType.System_String, ContainingSymbol: IMethodSymbol { MethodKind: not MethodKind.AnonymousFunction } method } parameter }
                            && !IsVisibleOutside(method))
                        {
                            wrappers.Add(parameter.OriginalDefinition);
                        }
                        else
                        {
                            findings.Add(new(node, $"SQL that is not a constant: {sql.Syntax}"));
                        }
                    }

                    if (node is InterpolatedStringExpressionSyntax or BinaryExpressionSyntax && node.Parent is not BinaryExpressionSyntax
                        && model.GetConstantValue(node) is { HasValue: false } && StatementStart().IsMatch(LeadingText(node)))
                    {
                        findings.Add(new(node, $"statement text built from values: {node}"));
                    }
                }
            }

            if (wrappers.Count == before)
            {
                return (findings, sinks);
            }
        }
    }

    /// <summary>The SQL text an operation sends: its arguments for SQL parameters, or the value it assigns to CommandText.</summary>
    private static IEnumerable<IOperation> SqlArguments(IOperation? operation, HashSet<IParameterSymbol> wrappers)
    {
        var arguments = operation switch
        {
            IInvocationOperation invocation => invocation.Arguments,
            IObjectCreationOperation creation => creation.Arguments,
            _ => [],
        };
        foreach (var argument in arguments)
        {
            if (argument.Parameter is { Type.SpecialType: SpecialType.System_String } parameter
                && (wrappers.Contains(parameter.OriginalDefinition) || IsFromSqlLibrary(parameter) && SqlParameterName().IsMatch(parameter.Name)))
            {
                yield return argument.Value;
            }
        }

        if (operation is ISimpleAssignmentOperation { Target: IPropertyReferenceOperation { Property: { Name: "CommandText" or "SqlStatement" } property } } assignment
            && (IsFromSqlLibrary(property) || property.ContainingAssembly.Name == "System.Data.Common"))
        {
            yield return assignment.Value;
        }
    }

    private static bool IsFromSqlLibrary(ISymbol symbol) =>
        symbol.ContainingAssembly?.Name is "Npgsql" or "Dapper" || symbol.ContainingAssembly?.Name.StartsWith("FluentMigrator", StringComparison.Ordinal) == true;

    /// <summary>Whether code outside the assembly can call it, so that its callers are not all here to check.</summary>
    private static bool IsVisibleOutside(ISymbol symbol) =>
        symbol.DeclaredAccessibility is Accessibility.Public or Accessibility.Protected or Accessibility.ProtectedOrInternal
        && (symbol.ContainingType is null || IsVisibleOutside(symbol.ContainingType));

    private static IOperation Unwrap(IOperation operation) => operation is IConversionOperation conversion ? Unwrap(conversion.Operand) : operation;

    /// <summary>The text before the first hole of an interpolated string, or the leftmost literal of a concatenation.</summary>
    private static string LeadingText(SyntaxNode node) => node switch
    {
        InterpolatedStringExpressionSyntax s => s.Contents.FirstOrDefault() is InterpolatedStringTextSyntax text ? text.TextToken.ValueText : string.Empty,
        BinaryExpressionSyntax { RawKind: (int)SyntaxKind.AddExpression } b => LeadingText(b.Left),
        LiteralExpressionSyntax { RawKind: (int)SyntaxKind.StringLiteralExpression } l => l.Token.ValueText,
        _ => string.Empty,
    };

    // Parameter names of Npgsql (cmdText, commandText, copyFromCommand, …), Dapper (sql) and FluentMigrator (sqlStatement, sql, template).
    [GeneratedRegex("^(sql[A-Za-z]*|cmdText|commandText|copy[A-Za-z]*Command|template)$")]
    private static partial Regex SqlParameterName();

    [GeneratedRegex(@"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|COPY|CREATE|DROP|ALTER|GRANT|REVOKE|TRUNCATE|SET|DO)\b")]
    private static partial Regex StatementStart();

    private static SyntaxTree Sample(string member) => CSharpSyntaxTree.ParseText(
        $"using Dapper; using FluentMigrator; using Npgsql;\npublic sealed class Sample\n{{\n{member}\n}}\n", ParseOptions, "Sample.cs");

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "StatusData.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("StatusData.sln not found above " + AppContext.BaseDirectory);
    }

    private sealed record Finding(string File, string Method, string Text)
    {
        public Finding(SyntaxNode node, string what)
            : this(
                Path.GetFileName(node.SyntaxTree.FilePath),
                node.AncestorsAndSelf().OfType<MethodDeclarationSyntax>().FirstOrDefault()?.Identifier.Text ?? "?",
                $"{Path.GetFileName(node.SyntaxTree.FilePath)}:{node.GetLocation().GetLineSpan().StartLinePosition.Line + 1}: {what}")
        {
        }
    }
}
