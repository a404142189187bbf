namespace Ingest.Pipeline.Checkpoints;

/// <summary>A checkpoint row's version: the ownership epoch in the top 12 bits, a microsecond clock below. Rows of a
/// newer epoch win argMax and ReplacingMergeTree over every row of an older one, whatever the clocks say, so an owner
/// that was taken over cannot move a partition's checkpoint back by writing late. Microseconds since 1970 stay below
/// 2^52 until 2112; 4,096 epochs per partition.</summary>
internal static class CheckpointVersion
{
    private const int EpochShift = 52;
    private const ulong ClockMask = (1UL << EpochShift) - 1;

    public static ulong Of(uint epoch, ulong clockMicros) => ((ulong)epoch << EpochShift) | (clockMicros & ClockMask);

    public static uint EpochOf(ulong version) => (uint)(version >> EpochShift);
}
