using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Bus.Conformance;
using Bus.DynamoDb.Workflows;
using Bus.Workflows;

namespace Bus.DynamoDb.Tests;

/// <summary>Two stores on separate clients stand for two hosts; correlation items left by a crash are recovered.</summary>
public sealed class DynamoDbConcurrencyTests : WorkflowStoreTwoHostsTests, IDisposable
{
    private readonly IAmazonDynamoDB _hostA = Dynalite.Client();
    private readonly IAmazonDynamoDB _hostB = Dynalite.Client();
    private readonly string _prefix = Dynalite.UniquePrefix("conc");

    [Fact]
    public async Task Two_hosts_starting_the_same_correlation_one_wins()
    {
        var (a, b) = (Store(_hostA), Store(_hostB));
        var name = $"wf-{Guid.NewGuid():N}";

        await a.InsertAsync(Instance("order-2", name), default);
        var error = await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => b.InsertAsync(Instance("order-2", name), default));

        Assert.Contains("already has an instance correlated on 'order-2'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_correlation_item_naming_a_missing_instance_is_taken_over()
    {
        var store = Store(_hostA);
        await store.EnsureTableAsync(default);
        var name = $"wf-{Guid.NewGuid():N}";
        await PutPointerAsync(name, "order-3", "gone", 1);

        var instance = Instance("order-3", name);
        await store.InsertAsync(instance, default);

        Assert.Equal(instance.Id, (await store.FindAsync(name, "order-3", default))?.Id);
    }

    [Fact]
    public async Task A_move_that_crashed_half_way_blocks_its_value_until_the_instance_moves_on()
    {
        var store = Store(_hostA);
        var name = $"wf-{Guid.NewGuid():N}";
        var holder = Instance("old", name);
        await store.InsertAsync(holder, default);

        // The holder claimed "new" for its version 2, then crashed before writing version 2.
        await PutPointerAsync(name, "new", holder.Id, 2);

        Assert.Null(await store.FindAsync(name, "new", default));
        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => store.InsertAsync(Instance("new", name), default));

        // The holder is saved again (still on "old"): the claim is stale now and another instance may take "new".
        await store.UpdateAsync(holder with { StateJson = "{}" }, 1, default);
        var other = Instance("new", name);
        await store.InsertAsync(other, default);

        Assert.Equal(other.Id, (await store.FindAsync(name, "new", default))?.Id);
        Assert.Equal(holder.Id, (await store.FindAsync(name, "old", default))?.Id);
    }

    public void Dispose()
    {
        _hostA.Dispose();
        _hostB.Dispose();
    }

    protected override IWorkflowStore StoreOfHost(int host) => Store(host == 0 ? _hostA : _hostB);

    private DynamoDbWorkflowStore Store(IAmazonDynamoDB client) => new(client, Dynalite.Options(_prefix));

    private Task PutPointerAsync(string name, string value, string id, long version) => _hostA.PutItemAsync(new PutItemRequest
    {
        TableName = _prefix + "workflows",
        Item = new()
        {
            ["pk"] = new AttributeValue(WorkflowTable.PointerKey(name, value)),
            ["instanceId"] = new AttributeValue(id),
            ["version"] = new AttributeValue { N = version.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        },
    });
}
