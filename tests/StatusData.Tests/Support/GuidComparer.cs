namespace StatusData.Tests.Support;

/// <summary>Orders Guids as PostgreSQL orders uuid: by their 16 bytes in RFC 4122 (big-endian) order.</summary>
internal sealed class GuidComparer : IComparer<Guid>
{
    public static readonly GuidComparer Postgres = new();

    public int Compare(Guid x, Guid y) => x.ToByteArray(bigEndian: true).AsSpan().SequenceCompareTo(y.ToByteArray(bigEndian: true));
}
