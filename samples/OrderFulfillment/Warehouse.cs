namespace OrderFulfillment;

/// <summary>The stock of the sample shop, with reservations that are idempotent per order (a redelivered message
/// does not reserve twice) and can be released.</summary>
public sealed class Warehouse
{
    private readonly Dictionary<string, int> _stock = new(StringComparer.Ordinal) { ["widget"] = 10, ["gadget"] = 1 };
    private readonly Dictionary<string, (string Sku, int Quantity)> _reservations = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public int InStock(string sku)
    {
        lock (_gate)
        {
            return _stock.GetValueOrDefault(sku);
        }
    }

    /// <summary>Reserves stock for the order (once) and returns the reservation id.</summary>
    public string Reserve(string orderId, string sku, int quantity)
    {
        lock (_gate)
        {
            var reservationId = $"R-{orderId}";
            if (_reservations.TryAdd(reservationId, (sku, quantity)))
            {
                _stock[sku] = _stock.GetValueOrDefault(sku) - quantity;
            }

            return reservationId;
        }
    }

    /// <summary>Puts a reservation's stock back (once).</summary>
    public void Release(string reservationId)
    {
        lock (_gate)
        {
            if (_reservations.Remove(reservationId, out var reservation))
            {
                _stock[reservation.Sku] += reservation.Quantity;
            }
        }
    }
}
