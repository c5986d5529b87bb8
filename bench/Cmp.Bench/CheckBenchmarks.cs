using BenchmarkDotNet.Attributes;
using Cmp.Flows.Checks;

namespace Cmp.Bench;

/// <summary>Import-time cost: parsing an export and checking it (<see cref="FlowChecker.Check(byte[])"/>).</summary>
[MemoryDiagnoser]
public class CheckBenchmarks
{
    private byte[] _largest = [];
    private byte[] _size300KB = [];
    private byte[] _basicPrompting = [];

    [GlobalSetup]
    public void Setup()
    {
        _largest = File.ReadAllBytes(Samples.Largest().FullName);
        _size300KB = File.ReadAllBytes(Samples.Runnable300KB().FullName);
        _basicPrompting = File.ReadAllBytes(Samples.BasicPrompting().FullName);
    }

    /// <summary>The largest export of all versions.</summary>
    [Benchmark]
    public FlowCheckReport ParseAndCheck_Largest() => FlowChecker.Check(_largest);

    /// <summary>The runnable export closest to ~300 KB, else (as today: none is runnable near that size) 1.7 "Vector Store RAG".</summary>
    [Benchmark]
    public FlowCheckReport ParseAndCheck_300KB() => FlowChecker.Check(_size300KB);

    /// <summary>1.7 "Basic Prompting", the smallest useful flow.</summary>
    [Benchmark]
    public FlowCheckReport ParseAndCheck_BasicPrompting() => FlowChecker.Check(_basicPrompting);
}
