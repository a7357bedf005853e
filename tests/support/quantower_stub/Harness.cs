// Test harness for BalanceCliBridge under mono: fills the stub's Core.Instance.Accounts with
// sample accounts, runs the Strategy and exits. Used by tests/test_quantower.py.
//
//   Harness.exe once   PATH               run once (the first export is synchronous), stop, exit
//   Harness.exe private PATH              as once, plus Bitfinex-like accounts (hidden Balance,
//                                         personal AdditionalInfo items)
//   Harness.exe update PATH               run, raise Updated/BalanceUpdated, wait for the re-export
//   Harness.exe serve  PATH|- PORT TOKEN  run with HTTP, print READY, stop when stdin closes
//   Harness.exe keys   TEXT...            print "personal" or "kept" per AdditionalInfo key
//   Harness.exe values TEXT...            print "contact" or "kept" per AdditionalInfo text
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

    static AdditionalInfoItem Hide(string id)
    {
        AdditionalInfoItem item = new AdditionalInfoItem();
        item.Id = id;
        item.Hidden = true;
        return item;
    }

    // Shaped like Quantower's official Bitfinex integration (Quantower/Examples,
    // BitfinexTradingVendor.cs: CreateExchangeAccount, CreateMarginAccount,
    // FillAccountAdditionalInfo): Balance never set and hidden, the user's e-mail among the
    // items; plus the other personal items a vendor might add.
    static void PopulatePrivate()
    {
        Connection bitfinex = Conn("bitfinex", "Bitfinex", ConnectionState.Connected);

        CryptoAccount exchange = Bind(new CryptoAccount(), bitfinex, "bitfinex");
        exchange.Id = "bfx-exchange";
        exchange.Name = "Exchange";
        exchange.AdditionalInfo = new AdditionalInfoCollection(
            Hide("Balance"),
            Hide("AccountCurrency"),
            Info("email", "Email", "jane.roe@example.org"),
            Info("creationTime", "Creation time", new DateTime(2019, 5, 6, 7, 8, 9, DateTimeKind.Utc)),
            Info("isVerified", "Verified", true),
            Info("verificationLevel", "Verification level", "Full"),
            Info("makerFee", "Maker fee", 0.001));
        exchange.Balances = new CryptoAssetBalances[] {
            Coin("BTC", 0.25, 0.05, 0.2, 0.25, 24000.5),
            Coin("USD", 1000, 0, 1000, 0.0104, 1000),
        };

        CryptoAccount margin = Bind(new CryptoAccount(), bitfinex, "bitfinex");
        margin.Id = "bfx-margin";
        margin.Name = "Margin";
        margin.AccountCurrency = Currency("USD");
        AdditionalInfoItem userPnl = Info("userPnl", "User profit & loss", -12.75);
        userPnl.DataType = ComparingType.Double;
        margin.AdditionalInfo = new AdditionalInfoCollection(
            Hide("Balance"),
            Info("marginBalance", "Margin balance", 1500.5),
            Info("netMargin", "Net margin", 1490.25),
            userPnl,
            Info("userSwaps", "User swaps", -0.5),
            Info("UserTradesCount", "User trades", 42),
            Info("login", "Login", "jroe"),
            Info("user_name", "User name", "jroe2"),
            Info("USERNAME", "Username", "jroe3"),
            Info("phone", "Phone", "+44 20 7946 0958"),
            Info("mobileNumber", "Mobile", 4915112345678L),
            Info("accountOwner", "Account owner", "Jane Roe"),
            Info("ownerNames", "Owners", "Jane Roe; John Roe"),
            Info("address", "Address", "1 Main Street"),
            Info("homeCity", "City", "Springfield"),
            Info("name", "Name", "Jane R."),
            Info("support", "Support", "+1 (555) 010-0199"),
            Info("note", "Note", "auto-renew on"),
            Info("desk", "Desk", "desk: jroe@example.org"),
            Info("openDate", "Open date", "2020-01-31"),
            Info("tier", "Tier", "VIP 1"),
            Info("velocity", "Velocity", 3));

        Account zero = Bind(new Account(), bitfinex, "bitfinex");
        zero.Id = "bfx-zero";
        zero.Name = "Emptied";
        zero.AccountCurrency = Currency("USD");
        zero.Balance = 0;

        Core.Instance.AddAccount(exchange);
        Core.Instance.AddAccount(margin);
        Core.Instance.AddAccount(zero);
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
        if (args[0] == "keys" || args[0] == "values")
        {
            for (int i = 1; i < args.Length; i++)
            {
                bool drop = args[0] == "keys" ? BalanceCliBridge.LooksPersonal(args[i])
                    : BalanceCliBridge.LooksLikeContact(args[i]);
                Console.Out.WriteLine(drop ? (args[0] == "keys" ? "personal" : "contact") : "kept");
            }
            return 0;
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
        string mode = args[0];
        if (mode == "private")
            PopulatePrivate();
        BalanceCliBridge bridge = new BalanceCliBridge();
        bridge.ExportPath = args[1] == "-" ? "" : args[1];
        bridge.IntervalSeconds = 3600;
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
        else if (mode != "once" && mode != "private")
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
