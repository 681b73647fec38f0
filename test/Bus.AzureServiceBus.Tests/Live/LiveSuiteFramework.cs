using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("Bus.AzureServiceBus.Tests.Live.LiveSuiteFramework", "Bus.AzureServiceBus.Tests")]

namespace Bus.AzureServiceBus.Tests.Live;

/// <summary>Marks a test class (typically a subclass of a shared suite, whose facts it cannot annotate) that runs only
/// against a real namespace: without <c>BUS_ASB_CONNECTION_STRING</c> each of its tests is reported skipped with the
/// reason.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class LiveServiceBusSuiteAttribute : Attribute;

/// <summary>xUnit's framework, except that the tests of a <see cref="LiveServiceBusSuiteAttribute"/> class are discovered as
/// skipped when no live namespace is configured (xUnit 2 has no skipping at run time).</summary>
public sealed class LiveSuiteFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    protected override ITestFrameworkDiscoverer CreateDiscoverer(IAssemblyInfo assemblyInfo) =>
        new Discoverer(assemblyInfo, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Discoverer(IAssemblyInfo assembly, ISourceInformationProvider source, IMessageSink diagnostics)
        : XunitTestFrameworkDiscoverer(assembly, source, diagnostics)
    {
        protected override bool FindTestsForMethod(
            ITestMethod testMethod, bool includeSourceInformation, IMessageBus messageBus, ITestFrameworkDiscoveryOptions discoveryOptions)
        {
            var live = testMethod.TestClass.Class.GetCustomAttributes(typeof(LiveServiceBusSuiteAttribute)).Any();
            if (!live || !string.IsNullOrWhiteSpace(LiveServiceBusFactAttribute.ConnectionString)
                || !testMethod.Method.GetCustomAttributes(typeof(FactAttribute)).Any())
            {
                return base.FindTestsForMethod(testMethod, includeSourceInformation, messageBus, discoveryOptions);
            }

            var skipped = new XunitSkippedDataRowTestCase(
                DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(),
                testMethod, LiveServiceBusFactAttribute.SkipReason, null);
            return ReportDiscoveredTestCase(skipped, includeSourceInformation, messageBus);
        }
    }
}
