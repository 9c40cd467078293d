namespace StatusData.Migrations;

/// <summary>
/// Lets one migration break one migration rule (e.g. <c>index-without-concurrently</c>) that the rule check, run by
/// the tests before a migration ships, would otherwise refuse, and records why that is safe here. Each waiver names
/// exactly one rule; put one attribute per rule.
/// </summary>
/// <remarks>
/// The rules: <c>index-without-concurrently</c>, <c>not-null-column-without-default</c>, <c>column-type-change</c>,
/// <c>constraint-without-not-valid</c>, <c>set-not-null</c>, <c>python-model-in-use</c>; a violation's message gives
/// the rule's reason and its safe alternative. An unknown rule name, a blank reason, or the same rule waived twice
/// makes <see cref="StatusDataMigrator"/>'s constructor throw <see cref="ArgumentException"/>.
/// </remarks>
/// <param name="rule">The rule's name, e.g. <c>column-type-change</c>.</param>
/// <param name="reason">Why breaking it is safe for this migration, e.g. "varchar(50) to varchar(100) does not rewrite the table".</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class WaivesMigrationRuleAttribute(string rule, string reason) : Attribute
{
    /// <summary>The name of the rule this migration breaks.</summary>
    public string Rule { get; } = rule;

    /// <summary>Why breaking it is safe for this migration.</summary>
    public string Reason { get; } = reason;
}
