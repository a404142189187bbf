using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ingest.Pipeline.ClickHouse.Native;

/// <summary>A growable byte buffer rented from <see cref="ArrayPool{T}.Shared"/>; kept across <see cref="Clear"/>
/// so a column reused for the next batch does not rent again. Values are stored in machine order, which is
/// little-endian on every platform we build for (linux-x64), i.e. already ClickHouse's wire order.</summary>
internal sealed class PooledBuffer : IDisposable
{
    private const int MinimumRent = 256;

    private byte[] _array = [];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _array.AsSpan(0, Length);

    /// <summary>A writable span of at least <paramref name="size"/> bytes at the end; commit with <see cref="Advance"/>.</summary>
    public Span<byte> GetSpan(int size)
    {
        if (_array.Length - Length < size) Grow(size);
        return _array.AsSpan(Length, size);
    }

    public void Advance(int count) => Length += count;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Length += bytes.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Append<T>(T value)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        if (_array.Length - Length < size) Grow(size);
        Unsafe.WriteUnaligned(ref _array[Length], value);
        Length += size;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(int index)
        where T : unmanaged
        => MemoryMarshal.Read<T>(_array.AsSpan(index * Unsafe.SizeOf<T>(), Unsafe.SizeOf<T>()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set<T>(int index, T value)
        where T : unmanaged
        => MemoryMarshal.Write(_array.AsSpan(index * Unsafe.SizeOf<T>(), Unsafe.SizeOf<T>()), in value);

    public void Truncate(int length)
    {
        if ((uint)length > (uint)Length) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
    }

    public void Clear() => Length = 0;

    public void Dispose()
    {
        var array = _array;
        _array = [];
        Length = 0;
        if (array.Length > 0) ArrayPool<byte>.Shared.Return(array);
    }

    private void Grow(int size)
    {
        var needed = checked(Length + size);
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(MinimumRent, _array.Length * 2)));
        _array.AsSpan(0, Length).CopyTo(next);
        if (_array.Length > 0) ArrayPool<byte>.Shared.Return(_array);
        _array = next;
    }
}
