// Test harness for BalanceCliBridge under mono: fills the stub's Core.Instance.Accounts with
// sample accounts, runs the Strategy and exits. Used by tests/test_quantower.py.
//
//   Harness.exe once   PATH               run once (the first export is synchronous), stop, exit
//   Harness.exe update PATH               run, raise Updated/BalanceUpdated, wait for the re-export
//   Harness.exe serve  PATH|- PORT TOKEN  run with HTTP, print READY, stop when stdin closes
//
// Exit codes: 0 ok, 2 usage, 3 event subscriptions leaked after OnStop, 4 update not exported.
using System;
using System.Globalization;
using System.IO;
using System.Threading;
using BalanceCli.Quantower;
using TradingPlatform.BusinessLayer;

public static class Harness
{
    static Connection Conn(string id, string name, ConnectionState state)
    {
        Connection c = new Connection();
        c.Id = id;
        c.Name = name;
        c.State = state;
        return c;
    }

    static T Bind<T>(T account, Connection connection, string connectionId) where T : Account
    {
        account.ConnectionId = connectionId;
        account.SetConnection(connection);
        return account;
    }

    static Asset Currency(string name)
    {
        Asset a = new Asset();
        a.Id = name;
        a.Name = name;
        return a;
    }

    static AdditionalInfoItem Info(string id, string nameKey, object value)
    {
        AdditionalInfoItem item = new AdditionalInfoItem();
        item.Id = id;
        item.NameKey = nameKey;
        item.Value = value;
        return item;
    }

    static CryptoAssetBalances Coin(string asset, double total, double reserved, double available, double btc, double usd)
    {
        CryptoAssetBalances b = new CryptoAssetBalances();
        b.AssetId = asset;
        b.TotalBalance = total;
        b.ReservedBalance = reserved;
        b.AvailableBalance = available;
        b.TotalInBTC = btc;
        b.TotalInUSD = usd;
        return b;
    }

    static CryptoAccount crypto;
    static Account futures;

    static void Populate()
    {
        Connection binance = Conn("binance", "Binance", ConnectionState.Connected);
        Connection rithmic = Conn("rithmic", "Rithmic \"Paper\"", ConnectionState.Connected);
        Connection cqg = Conn("cqg", "CQG", ConnectionState.Connected);
        Connection ib = Conn("ib", "Interactive Brokers", ConnectionState.Disconnected);

        AdditionalInfoItem hidden = Info("hiddenMargin", "Hidden margin", 5.0);
        hidden.Hidden = true;
        AdditionalInfoItem invisible = Info("invisibleMargin", "Invisible margin", 6.0);
        invisible.Visible = false;

        crypto = Bind(new CryptoAccount(), binance, "binance");
        crypto.Id = "A1";
        crypto.Name = "Main";
        crypto.AccountCurrency = Currency("USDT");
        crypto.Balance = 1250.75;
        crypto.AdditionalInfo = new AdditionalInfoCollection(
            Info("marginBalance", "Margin balance", 1200.5),
            Info("leverage", "Leverage", 10),
            Info("unrealizedPnl", "Unrealized P/L", double.NaN),
            Info("status", "Status", "Active"),
            Info("creationTime", "Creation time", new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc)),
            Info("email", "E-mail", "trader@example.com"),
            Info("userName", "User", "Joe Trader"),
            Info("phone", "Phone", "+1 555 0100"),
            Info("comment", "Comment", "reach me at joe@example.com"),
            Info("longText", "Long text", new string('x', 65)),
            hidden,
            invisible);
        crypto.Balances = new CryptoAssetBalances[] {
            Coin("BTC", 0.5, 0.1, 0.4, 0.5, 48000.0),
            Coin("ETH", 0.1 + 0.2, 0.0, 0.1 + 0.2, 0.0123456789012345, 1234.5678),
            Coin("SHIB", 1e-8, 0, 1e-8, 1.5e-20, double.PositiveInfinity),
            Coin("USDT", 1250.75, 0, 1250.75, double.NaN, 1250.75),
        };

        futures = Bind(new Account(), rithmic, "rithmic");
        futures.Id = "F-100";
        futures.Name = "Futures \"Main\"\\\n\tM\u00fcller \u20ac \U0001F600";
        futures.AccountCurrency = Currency("USD");
        futures.Balance = 100000.25;

        Account duplicate = Bind(new Account(), cqg, "cqg");
        duplicate.Id = "F-100";
        duplicate.Name = "CQG eval";
        duplicate.AccountCurrency = null;
        duplicate.Balance = -12.5;

        Account offline = Bind(new Account(), ib, "ib");
        offline.Id = "U1234567";
        offline.Name = "Disconnected";
        offline.Balance = 1;

        Account orphan = Bind(new Account(), null, "gone");
        orphan.Id = "ORPHAN";
        orphan.Name = "No connection";

        Account broken = Bind(new Account(), binance, "binance");
        broken.Id = "BROKEN";
        broken.ThrowOnRead = true;

        Core.Instance.AddAccount(crypto);
        Core.Instance.AddAccount(broken);
        Core.Instance.AddAccount(futures);
        Core.Instance.AddAccount(duplicate);
        Core.Instance.AddAccount(offline);
        Core.Instance.AddAccount(orphan);
    }

    static bool WaitFor(string path, string text, int milliseconds)
    {
        DateTime until = DateTime.UtcNow.AddMilliseconds(milliseconds);
        while (DateTime.UtcNow < until)
        {
            try
            {
                if (File.Exists(path) && File.ReadAllText(path).Contains(text))
                    return true;
            }
            catch (IOException)
            {
            }
            Thread.Sleep(50);
        }
        return false;
    }

    public static int Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: Harness.exe once|update|serve PATH [PORT TOKEN]");
            return 2;
        }
        try
        {
            // Numbers must not follow the machine's culture (a comma decimal separator here).
            Thread.CurrentThread.CurrentCulture = new CultureInfo("de-DE");
        }
        catch (Exception)
        {
        }
        Populate();
        BalanceCliBridge bridge = new BalanceCliBridge();
        bridge.ExportPath = args[1] == "-" ? "" : args[1];
        bridge.IntervalSeconds = 3600;
        string mode = args[0];
        if (mode == "serve")
        {
            if (args.Length < 4)
                return 2;
            bridge.HttpPort = int.Parse(args[2], CultureInfo.InvariantCulture);
            bridge.BearerToken = args[3];
        }
        bridge.Run();
        if (crypto.UpdatedSubscribers != 1 || crypto.BalanceUpdatedSubscribers != 1 || futures.UpdatedSubscribers != 1)
        {
            Console.Error.WriteLine("not subscribed to the account events");
            return 3;
        }
        int code = 0;
        if (mode == "update")
        {
            futures.Balance = 99999.5;
            futures.RaiseUpdated();
            if (!WaitFor(bridge.ExportPath, "99999.5", 5000))
                code = 4;
            crypto.Balances[0].TotalBalance = 0.75;
            crypto.RaiseBalanceUpdated(crypto.Balances[0]);
            if (code == 0 && !WaitFor(bridge.ExportPath, "\"TotalBalance\": 0.75", 5000))
                code = 4;
        }
        else if (mode == "serve")
        {
            Console.Out.WriteLine("READY");
            Console.Out.Flush();
            while (Console.In.ReadLine() != null)
            {
            }
        }
        else if (mode != "once")
        {
            return 2;
        }
        bridge.Stop();
        if (crypto.UpdatedSubscribers != 0 || crypto.BalanceUpdatedSubscribers != 0 || futures.UpdatedSubscribers != 0)
        {
            Console.Error.WriteLine("event subscriptions leaked after OnStop");
            return 3;
        }
        return code;
    }
}
