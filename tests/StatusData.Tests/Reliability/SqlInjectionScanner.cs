using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace StatusData.Tests.Reliability;

/// <summary>
/// Finds SQL built from values in C# source: string interpolation with holes, concatenation of a string
/// literal with a non-constant, string.Format/Concat/Join or Replace, in a string that reaches a
/// database command. Not a C# compiler: a lexer that understands comments, char literals and every
/// string form (regular, verbatim, raw, interpolated, nested holes), plus light data flow within a file:
/// <list type="bullet">
/// <item>Sinks: <c>new NpgsqlCommand/NpgsqlBatchCommand/CommandDefinition(…)</c>, <c>.CommandText =</c>,
/// <c>CreateCommand</c>, COPY (<c>Begin…Import/Export</c>), Dapper's <c>Execute*/Query*</c>, a migration's
/// <c>Sql(…)</c>, and any method that passes one of its own string parameters to a sink (a wrapper).</item>
/// <item>Every argument of a sink is checked; a bare identifier is followed to its declarations and
/// assignments (and a foreach variable to its collection), a call to a method of the same file to its
/// return expressions. Identifiers initialized with a literal count as literals, so concatenating
/// constants is fine.</item>
/// <item>A second, belt-and-braces rule: an interpolated or concatenated string that itself starts like an
/// SQL statement (SELECT, INSERT, UPDATE, DELETE, …), wherever it is, unless its method is allowlisted.</item>
/// </list>
/// </summary>
internal static partial class SqlInjectionScanner
{
    /// <summary>
    /// Methods allowed to interpolate statement-like text, with the reason. Keep it short, and say why.
    /// </summary>
    public static readonly IReadOnlyDictionary<(string File, string Method), string> Allowlist = new Dictionary<(string, string), string>
    {
        [("StatusDataMigrator.cs", "RenderScript")] =
            "renders a psql script for people (the CLI's 'script' command); never executed by the runner; the one value is the lock timeout the migrator validated and formatted as whole milliseconds",
        [("FluentMigratorServices.cs", "BeginTransaction")] =
            "SET LOCAL takes no bind parameters; the value is the lock timeout the migrator formatted itself as whole milliseconds",
    };

    private static readonly Regex[] SinkPatterns =
    [
        NewCommandSink(),
        MethodSink(),
        MigrationSqlSink(),
    ];

    /// <summary>Scans one file's text; <paramref name="fileName"/> is for reports and the allowlist.</summary>
    public static ScanResult Scan(string fileName, string source)
    {
        var file = new SourceFile(fileName, source);
        var findings = new List<string>();
        var sinkSites = 0;

        // Wrappers: methods whose string parameter reaches a sink. Found to a fixpoint.
        var wrappers = new HashSet<string>(StringComparer.Ordinal);
        List<(int Position, string Name, List<(int Start, int End)> Arguments)> sinks;
        while (true)
        {
            sinks = file.FindSinks(wrappers);
            var before = wrappers.Count;
            foreach (var (_, _, arguments) in sinks)
            {
                foreach (var (start, end) in arguments)
                {
                    var argument = file.Masked[start..end].Trim();
                    if (IdentifierRegex().IsMatch(argument) && file.EnclosingMethodWithStringParameter(start, argument) is { } wrapper)
                    {
                        wrappers.Add(wrapper);
                    }
                }
            }

            if (wrappers.Count == before)
            {
                break;
            }
        }

        foreach (var (position, name, arguments) in sinks)
        {
            sinkSites++;
            foreach (var (start, end) in arguments)
            {
                if (file.BuiltFromValues(start, end, depth: 0, out var why))
                {
                    findings.Add($"{fileName}:{file.Line(position)}: SQL passed to {name}(…) is built from values ({why}): {file.Source[start..end].Trim()}");
                }
            }
        }

        // Belt and braces: statement-like strings built from values anywhere.
        foreach (var literal in file.Strings.Values)
        {
            if (!StatementStartRegex().IsMatch(literal.Text))
            {
                continue;
            }

            var built = (literal.Interpolated && literal.Holes > 0) || file.ConcatenatedWithValue(literal);
            if (!built)
            {
                continue;
            }

            var method = file.EnclosingMethodName(literal.Start);
            if (method is not null && Allowlist.ContainsKey((Path.GetFileName(fileName), method)))
            {
                continue;
            }

            findings.Add($"{fileName}:{file.Line(literal.Start)}: statement text built from values in {method ?? "?"}: {file.Source[literal.Start..literal.End]}");
        }

        return new ScanResult(findings.Distinct().ToList(), sinkSites);
    }

    [GeneratedRegex(@"\bnew\s+(NpgsqlCommand|NpgsqlBatchCommand|CommandDefinition)\s*\(")]
    private static partial Regex NewCommandSink();

    [GeneratedRegex(@"\.(CreateCommand|CreateBatchCommand|Begin(?:Binary|Text)(?:Import|Export)(?:Async)?|BeginRawBinaryCopy(?:Async)?|Execute(?:Scalar|Reader)?(?:Async)?|Query\w*)\s*(?:<[^<>()]*(?:<[^<>()]*>[^<>()]*)*>)?\s*\(")]
    private static partial Regex MethodSink();

    [GeneratedRegex(@"(?<![\w.])(Sql)\s*\(")]
    private static partial Regex MigrationSqlSink();

    [GeneratedRegex(@"\.CommandText\s*=(?!=)")]
    private static partial Regex CommandTextSink();

    [GeneratedRegex(@"^[A-Za-z_]\w*$")]
    private static partial Regex IdentifierRegex();

    [GeneratedRegex(@"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|COPY|CREATE|DROP|ALTER|GRANT|REVOKE|TRUNCATE|SET|DO)\b")]
    private static partial Regex StatementStartRegex();

    [GeneratedRegex(@"\b(?:string|String)\s*\.\s*(?:Format|Concat|Join)\s*\(|\.\s*Replace\s*\(|\.\s*Append(?:Line|Format)?\s*\(")]
    private static partial Regex BuildingCallRegex();

    [GeneratedRegex(@"^(?:await\s+)?([A-Za-z_]\w*)\s*\(")]
    private static partial Regex InvocationRegex();

    internal sealed record ScanResult(IReadOnlyList<string> Findings, int SinkSites);

    /// <summary>A string literal: where it is, whether it interpolates, and its text with holes as {}.</summary>
    internal sealed record StringLiteral(int Start, int End, bool Interpolated, int Holes, string Text);

    private sealed partial class SourceFile
    {
        public SourceFile(string name, string source)
        {
            Name = name;
            Source = source;
            var masked = source.ToCharArray();
            Strings = [];
            Lex(source, masked, Strings);
            Masked = new string(masked);
        }

        public string Name { get; }

        public string Source { get; }

        /// <summary>The source with comments and char literals blanked, and every string literal replaced by '§' and blanks (same length, same lines).</summary>
        public string Masked { get; }

        public Dictionary<int, StringLiteral> Strings { get; }

        public int Line(int position) => Source.AsSpan(0, position).Count('\n') + 1;

        public List<(int Position, string Name, List<(int Start, int End)> Arguments)> FindSinks(HashSet<string> wrappers)
        {
            var sinks = new List<(int, string, List<(int, int)>)>();
            var patterns = SinkPatterns.ToList();
            patterns.AddRange(wrappers.Select(w => new Regex($@"(?<![\w.]){Regex.Escape(w)}\s*(?:<[^<>()]*>)?\s*\(")));
            foreach (var pattern in patterns)
            {
                foreach (Match match in pattern.Matches(Masked))
                {
                    var open = match.Index + match.Length - 1;
                    if (Masked[match.Index] != '.' && !Masked.AsSpan(match.Index).StartsWith("new", StringComparison.Ordinal) && IsDeclaration(match.Index))
                    {
                        continue;
                    }

                    sinks.Add((match.Index, match.Groups[1].Success ? match.Groups[1].Value : match.Value.Trim('(', ' '), SplitArguments(open)));
                }
            }

            foreach (Match match in CommandTextSink().Matches(Masked))
            {
                var start = match.Index + match.Length;
                sinks.Add((match.Index, "CommandText =", [(start, ExpressionEnd(start))]));
            }

            return sinks;
        }

        /// <summary>Whether the expression in [start, end) is, or may be, SQL built from values.</summary>
        public bool BuiltFromValues(int start, int end, int depth, out string why)
        {
            why = string.Empty;
            if (depth > 6 || start >= end)
            {
                return false;
            }

            foreach (var literal in StringsIn(start, end))
            {
                if (literal.Interpolated && literal.Holes > 0)
                {
                    why = "string interpolation";
                    return true;
                }
            }

            var text = Masked[start..end];
            if (BuildingCallRegex().IsMatch(text))
            {
                why = "string.Format/Concat/Join, Replace or Append";
                return true;
            }

            var operands = SplitTopLevel(start, end, '+');
            if (operands.Count > 1)
            {
                var literals = operands.Count(o => IsLiteral(o.Start, o.End, depth));
                if (literals > 0 && literals < operands.Count)
                {
                    why = "concatenation of a literal with a value";
                    return true;
                }
            }

            var trimmed = text.Trim();
            if (IdentifierRegex().IsMatch(trimmed))
            {
                foreach (var (exprStart, exprEnd, compound) in Definitions(trimmed))
                {
                    if (compound && !IsLiteral(exprStart, exprEnd, depth + 1))
                    {
                        why = $"'{trimmed} +=' a value";
                        return true;
                    }

                    if (BuiltFromValues(exprStart, exprEnd, depth + 1, out var inner))
                    {
                        why = $"'{trimmed}' is {inner}";
                        return true;
                    }
                }
            }
            else if (InvocationRegex().Match(trimmed) is { Success: true } call)
            {
                foreach (var (exprStart, exprEnd) in ReturnExpressions(call.Groups[1].Value))
                {
                    if (BuiltFromValues(exprStart, exprEnd, depth + 1, out var inner))
                    {
                        why = $"{call.Groups[1].Value}() returns {inner}";
                        return true;
                    }
                }
            }

            return false;
        }

        public bool ConcatenatedWithValue(StringLiteral literal)
        {
            var after = NextNonSpace(literal.End);
            var before = PreviousNonSpace(literal.Start - 1);
            var plusAfter = after < Masked.Length && Masked[after] == '+' && after + 1 < Masked.Length && Masked[after + 1] is not ('+' or '=');
            var plusBefore = before >= 0 && Masked[before] == '+' && before > 0 && Masked[before - 1] != '+';
            if (!plusAfter && !plusBefore)
            {
                return false;
            }

            var end = ExpressionEnd(literal.Start);
            var start = ExpressionStart(literal.Start);
            var operands = SplitTopLevel(start, end, '+');
            return operands.Count > 1 && operands.Any(o => !IsLiteral(o.Start, o.End, 0));
        }

        /// <summary>The method whose parameter list declares a string parameter named <paramref name="parameter"/>, enclosing <paramref name="position"/>.</summary>
        public string? EnclosingMethodWithStringParameter(int position, string parameter)
        {
            var regex = new Regex($@"[(,]\s*(?:this\s+)?(?:string|String)\??\s+{Regex.Escape(parameter)}\s*[,)=]");
            string? found = null;
            foreach (Match match in regex.Matches(Masked[..position]))
            {
                // The '(' that opens this parameter list.
                var depth = 0;
                var open = -1;
                for (var i = match.Index; i >= 0; i--)
                {
                    if (Masked[i] == ')')
                    {
                        depth++;
                    }
                    else if (Masked[i] == '(' && depth-- == 0)
                    {
                        open = i;
                        break;
                    }
                }

                if (open > 0 && IdentifierBefore(open) is { } name)
                {
                    found = name;
                }
            }

            return found;
        }

        public string? EnclosingMethodName(int position)
        {
            var declarations = MethodDeclarationRegex().Matches(Masked[..position]);
            return declarations.Count == 0 ? null : declarations[^1].Groups[1].Value;
        }

        private static void Lex(string source, char[] masked, Dictionary<int, StringLiteral> strings)
        {
            var i = 0;
            while (i < source.Length)
            {
                i = LexCode(source, masked, strings, i, stopAtCloseBrace: false);
            }
        }

        /// <summary>Code up to the end (or, in a hole, up to the '}' that closes it at depth 0): returns the position after.</summary>
        private static int LexCode(string source, char[] masked, Dictionary<int, StringLiteral> strings, int i, bool stopAtCloseBrace)
        {
            var depth = 0;
            while (i < source.Length)
            {
                var c = source[i];
                if (c == '/' && At(source, i + 1) == '/')
                {
                    var end = source.IndexOf('\n', i);
                    end = end < 0 ? source.Length : end;
                    Blank(masked, i, end);
                    i = end;
                }
                else if (c == '/' && At(source, i + 1) == '*')
                {
                    var end = source.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    end = end < 0 ? source.Length : end + 2;
                    Blank(masked, i, end);
                    i = end;
                }
                else if (c == '\'')
                {
                    var j = i + 1;
                    if (At(source, j) == '\\')
                    {
                        j += 2;
                    }

                    while (j < source.Length && source[j] != '\'')
                    {
                        j++;
                    }

                    Blank(masked, i, Math.Min(j + 1, source.Length));
                    i = j + 1;
                }
                else if (IsStringStart(source, i))
                {
                    var literal = ReadString(source, masked, strings, i);
                    strings[literal.Start] = literal;
                    Blank(masked, literal.Start, literal.End);
                    masked[literal.Start] = '§';
                    i = literal.End;
                }
                else if (stopAtCloseBrace && c is '(' or '[' or '{')
                {
                    depth++;
                    i++;
                }
                else if (stopAtCloseBrace && c is ')' or ']')
                {
                    depth--;
                    i++;
                }
                else if (stopAtCloseBrace && c == '}')
                {
                    if (depth == 0)
                    {
                        return i;
                    }

                    depth--;
                    i++;
                }
                else
                {
                    i++;
                }
            }

            return i;
        }

        private static bool IsStringStart(string source, int i)
        {
            if (i > 0 && (char.IsLetterOrDigit(source[i - 1]) || source[i - 1] == '_') && source[i] != '"')
            {
                return false;
            }

            var j = i;
            while (j < source.Length && source[j] is '$' or '@')
            {
                j++;
            }

            return At(source, j) == '"' && (j == i || !(i > 0 && (char.IsLetterOrDigit(source[i - 1]) || source[i - 1] == '_')));
        }

        private static StringLiteral ReadString(string source, char[] masked, Dictionary<int, StringLiteral> strings, int start)
        {
            var j = start;
            var dollars = 0;
            var verbatim = false;
            while (source[j] is '$' or '@')
            {
                if (source[j] == '$')
                {
                    dollars++;
                }
                else
                {
                    verbatim = true;
                }

                j++;
            }

            var quotes = 0;
            while (At(source, j + quotes) == '"')
            {
                quotes++;
            }

            var text = new StringBuilder();
            var holes = 0;
            if (quotes == 2)
            {
                return new StringLiteral(start, j + 2, dollars > 0, 0, string.Empty);
            }

            var raw = quotes >= 3;
            var i = j + (raw ? quotes : 1);
            while (i < source.Length)
            {
                var c = source[i];
                if (raw && c == '"')
                {
                    var run = 0;
                    while (At(source, i + run) == '"')
                    {
                        run++;
                    }

                    if (run >= quotes)
                    {
                        return new StringLiteral(start, i + run, dollars > 0, holes, text.ToString());
                    }

                    text.Append('"', run);
                    i += run;
                }
                else if (!raw && c == '"')
                {
                    if (verbatim && At(source, i + 1) == '"')
                    {
                        text.Append('"');
                        i += 2;
                        continue;
                    }

                    return new StringLiteral(start, i + 1, dollars > 0, holes, text.ToString());
                }
                else if (!raw && !verbatim && c == '\\')
                {
                    text.Append(At(source, i + 1));
                    i += 2;
                }
                else if (dollars > 0 && c == '{')
                {
                    var run = 0;
                    while (At(source, i + run) == '{')
                    {
                        run++;
                    }

                    var needed = raw ? dollars : 1;
                    if (!raw && run >= 2)
                    {
                        text.Append('{');
                        i += 2;
                        continue;
                    }

                    if (run < needed)
                    {
                        text.Append('{', run);
                        i += run;
                        continue;
                    }

                    // Braces beyond those that open the hole are text (raw strings); then the hole's code.
                    text.Append('{', run - needed).Append("{}");
                    holes++;
                    var end = LexCode(source, masked, strings, i + run, stopAtCloseBrace: true);
                    i = end;
                    while (At(source, i) == '}' && needed-- > 0)
                    {
                        i++;
                    }
                }
                else if (!raw && dollars > 0 && c == '}' && At(source, i + 1) == '}')
                {
                    text.Append('}');
                    i += 2;
                }
                else
                {
                    text.Append(c);
                    i++;
                }
            }

            return new StringLiteral(start, source.Length, dollars > 0, holes, text.ToString());
        }

        private static char At(string source, int i) => i < source.Length ? source[i] : '\0';

        private static void Blank(char[] masked, int start, int end)
        {
            for (var k = start; k < end; k++)
            {
                if (masked[k] != '\n')
                {
                    masked[k] = ' ';
                }
            }
        }

        private IEnumerable<StringLiteral> StringsIn(int start, int end) =>
            Strings.Values.Where(s => s.Start >= start && s.Start < end);

        /// <summary>Whether [start, end) is a plain string literal, or an identifier defined only by such.</summary>
        private bool IsLiteral(int start, int end, int depth)
        {
            var text = Masked[start..end].Trim();
            if (text == "§")
            {
                var literalStart = Masked.IndexOf('§', start);
                return Strings.TryGetValue(literalStart, out var literal) && !(literal.Interpolated && literal.Holes > 0);
            }

            if (depth > 6 || !IdentifierRegex().IsMatch(text))
            {
                return false;
            }

            var definitions = Definitions(text).ToList();
            return definitions.Count > 0 && definitions.All(d => !d.Compound && IsLiteral(d.Start, d.End, depth + 1) || IsConcatenationOfLiterals(d.Start, d.End, depth + 1));
        }

        private bool IsConcatenationOfLiterals(int start, int end, int depth)
        {
            var operands = SplitTopLevel(start, end, '+');
            return operands.Count > 1 && operands.All(o => IsLiteral(o.Start, o.End, depth));
        }

        /// <summary>Declarations (<c>string/var/const x = …;</c>), assignments (<c>x = …;</c>, <c>x += …;</c>) and foreach collections of an identifier.</summary>
        private IEnumerable<(int Start, int End, bool Compound)> Definitions(string identifier)
        {
            var name = Regex.Escape(identifier);
            foreach (Match match in Regex.Matches(Masked, $@"(?<![\w.]){name}\s*(\+=|=(?!=|>))"))
            {
                var start = match.Index + match.Length;
                yield return (start, ExpressionEnd(start), match.Groups[1].Value == "+=");
            }

            foreach (Match match in Regex.Matches(Masked, $@"\bforeach\s*\(\s*(?:var|string)\s+{name}\s+in\s+"))
            {
                var start = match.Index + match.Length;
                yield return (start, ExpressionEnd(start), false);
            }
        }

        private IEnumerable<(int Start, int End)> ReturnExpressions(string method)
        {
            var name = Regex.Escape(method);
            foreach (Match match in Regex.Matches(Masked, $@"[\w>\]?]\s+{name}\s*(?:<[^<>()]*>)?\s*\("))
            {
                var open = Masked.IndexOf('(', match.Index + match.Length - 1);
                var close = Matching(open);
                var after = NextNonSpace(close + 1);
                if (after + 1 < Masked.Length && Masked[after] == '=' && Masked[after + 1] == '>')
                {
                    yield return (after + 2, ExpressionEnd(after + 2));
                }
                else if (after < Masked.Length && Masked[after] == '{')
                {
                    var bodyEnd = Matching(after);
                    foreach (Match ret in Regex.Matches(Masked[after..bodyEnd], @"\breturn\s+"))
                    {
                        var start = after + ret.Index + ret.Length;
                        yield return (start, ExpressionEnd(start));
                    }
                }
            }
        }

        private List<(int Start, int End)> SplitArguments(int open)
        {
            var close = Matching(open);
            return SplitTopLevel(open + 1, close, ',');
        }

        private List<(int Start, int End)> SplitTopLevel(int start, int end, char separator)
        {
            var parts = new List<(int, int)>();
            var depth = 0;
            var partStart = start;
            for (var i = start; i < end; i++)
            {
                var c = Masked[i];
                if (c is '(' or '[' or '{')
                {
                    depth++;
                }
                else if (c is ')' or ']' or '}')
                {
                    depth--;
                }
                else if (depth == 0 && c == separator
                         && !(separator == '+' && (At(Masked, i + 1) is '+' or '=' || (i > 0 && Masked[i - 1] == '+'))))
                {
                    parts.Add((partStart, i));
                    partStart = i + 1;
                }
            }

            parts.Add((partStart, end));
            return parts.Where(p => Masked[p.Item1..p.Item2].Trim().Length > 0).ToList();
        }

        /// <summary>The position of the bracket that closes the one at <paramref name="open"/>.</summary>
        private int Matching(int open)
        {
            var depth = 0;
            for (var i = open; i < Masked.Length; i++)
            {
                if (Masked[i] is '(' or '[' or '{')
                {
                    depth++;
                }
                else if (Masked[i] is ')' or ']' or '}' && --depth == 0)
                {
                    return i;
                }
            }

            return Masked.Length;
        }

        /// <summary>Where the expression starting at <paramref name="start"/> ends: ';' or an unbalanced ',', ')', '}' or ']'.</summary>
        private int ExpressionEnd(int start)
        {
            var depth = 0;
            for (var i = start; i < Masked.Length; i++)
            {
                var c = Masked[i];
                if (c is '(' or '[' or '{')
                {
                    depth++;
                }
                else if (c is ')' or ']' or '}')
                {
                    if (depth == 0)
                    {
                        return i;
                    }

                    depth--;
                }
                else if (depth == 0 && c is ';' or ',')
                {
                    return i;
                }
            }

            return Masked.Length;
        }

        private int ExpressionStart(int position)
        {
            var depth = 0;
            for (var i = position - 1; i >= 0; i--)
            {
                var c = Masked[i];
                if (c is ')' or ']' or '}')
                {
                    depth++;
                }
                else if (c is '(' or '[' or '{')
                {
                    if (depth == 0)
                    {
                        return i + 1;
                    }

                    depth--;
                }
                else if (depth == 0 && (c is ';' or ',' || (c == '=' && At(Masked, i + 1) != '=' && i > 0 && Masked[i - 1] is not ('=' or '!' or '<' or '>'))))
                {
                    return i + 1;
                }
            }

            return 0;
        }

        private int NextNonSpace(int i)
        {
            while (i < Masked.Length && char.IsWhiteSpace(Masked[i]))
            {
                i++;
            }

            return i;
        }

        private int PreviousNonSpace(int i)
        {
            while (i >= 0 && char.IsWhiteSpace(Masked[i]))
            {
                i--;
            }

            return i;
        }

        private string? IdentifierBefore(int open)
        {
            var i = PreviousNonSpace(open - 1);
            if (i >= 0 && Masked[i] == '>')
            {
                var depth = 0;
                for (; i >= 0; i--)
                {
                    depth += Masked[i] == '>' ? 1 : Masked[i] == '<' ? -1 : 0;
                    if (depth == 0)
                    {
                        break;
                    }
                }

                i = PreviousNonSpace(i - 1);
            }

            var end = i + 1;
            while (i >= 0 && (char.IsLetterOrDigit(Masked[i]) || Masked[i] == '_'))
            {
                i--;
            }

            return end > i + 1 ? Masked[(i + 1)..end] : null;
        }

        /// <summary>A sink match that is really the declaration of a wrapper method (<c>Task RunAsync(…)</c>), not a call.</summary>
        private bool IsDeclaration(int position)
        {
            var before = PreviousNonSpace(position - 1);
            if (before < 0)
            {
                return false;
            }

            var c = Masked[before];
            if (c == '>' && before > 0 && Masked[before - 1] == '=')
            {
                return false; // a lambda's =>
            }

            return (char.IsLetterOrDigit(c) || c is '_' or '>' or ']' or '?')
                   && IdentifierBefore(before + 1) is not ("return" or "await" or "new" or "in" or "throw" or "yield" or "else" or null);
        }

        [GeneratedRegex(@"(?:private|public|internal|protected)\s[^;={}()]*?\b([A-Za-z_]\w*)\s*(?:<[^<>()]*>)?\s*\(")]
        private static partial Regex MethodDeclarationRegex();
    }

    internal static string Describe(ScanResult result) =>
        string.Create(CultureInfo.InvariantCulture, $"{result.SinkSites} sink sites; findings:\n{string.Join('\n', result.Findings)}");
}
