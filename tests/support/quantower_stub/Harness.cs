// Test harness for BalanceCliBridge under mono: fills the stub's Core.Instance.Accounts with
// sample accounts, runs the Strategy and exits. Used by tests/test_quantower.py.
//
//   Harness.exe once   PATH               run once (the first export is synchronous), stop, exit
//   Harness.exe private PATH              as once, plus Bitfinex-like accounts (hidden Balance,
//                                         personal AdditionalInfo items, "{Username} - EXCHANGE"
//                                         names) and e-mail addresses in names
//   Harness.exe drop   PATH               as once, then three connections drop while the
//                                         Strategy runs: wait for the re-export
//   Harness.exe update PATH               run, raise Updated/BalanceUpdated, wait for the re-export
//   Harness.exe serve  PATH|- PORT TOKEN  run with HTTP, print READY, stop when stdin closes
//   Harness.exe keys   TEXT...            print "personal" or "kept" per AdditionalInfo key
//   Harness.exe values TEXT...            print "contact" or "kept" per AdditionalInfo text
//   Harness.exe names  IDS NAME...        print each NAME without the |-separated IDS ("-": null)
//
// Exit codes: 0 ok, 2 usage, 3 event subscriptions leaked after OnStop, 4 update not exported.
using System;
using System.Collections.Generic;
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
        c.VendorName = name;
        c.State = state;
        Core.Instance.Connections.Add(c);
        return c;
    }

    static IList<SettingItem> LoginSettings(string login)
    {
        PasswordHolder password = new PasswordHolder();
        password.Password = "s3cret-password";
        return new List<SettingItem> {
            new SettingItemGroup("Login parameters", new List<SettingItem> {
                new SettingItemString("Login", login),
                new SettingItemPassword("Password", password),
                new SettingItemString("Server", "paper.example.net"),
                new SettingItemString("Country", "US"),
            }),
        };
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
    static Connection live;
    static Connection dxfeed;
    static Connection kraken;

    static void Populate()
    {
        Connection binance = Conn("binance", "Binance", ConnectionState.Connected);
        Connection rithmic = Conn("rithmic", "Rithmic \"Paper\" trader42", ConnectionState.Connected);
        rithmic.Settings = LoginSettings("trader42");
        Connection cqg = Conn("cqg", "CQG", ConnectionState.Connected);
        Connection ib = Conn("ib", "Interactive Brokers", ConnectionState.Disconnected);
        live = Conn("ib-live", "IB live", ConnectionState.Connected);
        dxfeed = Conn("dxfeed", "dxFeed", ConnectionState.Connected); // market data: no accounts
        Connection backtest = Conn("backtester", "Backtester", ConnectionState.Disconnected);
        backtest.Type = ConnectionType.Backtester;
        Connection hitbtc = Conn("hitbtc", "HitBTC", ConnectionState.Connected);
        kraken = Conn("kraken", "Kraken", ConnectionState.Connected);

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
        // The connection's login in the name, as Rithmic-style connections name accounts.
        futures.Name = "TRADER42 - Futures \"Main\"\\\n\tM\u00fcller \u20ac \U0001F600";
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

        // Balances changed by the vendor thread during the first two copies: read on the third.
        CryptoAccount busy = Bind(new CryptoAccount(), binance, "binance");
        busy.Id = "BUSY";
        busy.Name = "Busy";
        busy.AccountCurrency = Currency("USDT");
        busy.Balance = 10;
        busy.Balances = new CryptoAssetBalances[] { Coin("BTC", 0.125, 0, 0.125, 0.125, 12000) };
        busy.BalancesFailures = 2;

        // ... and during every copy: exported with an Error.
        CryptoAccount stuck = Bind(new CryptoAccount(), binance, "binance");
        stuck.Id = "STUCK";
        stuck.Name = "Stuck";
        stuck.AccountCurrency = Currency("USDT");
        stuck.Balance = 20;
        stuck.Balances = new CryptoAssetBalances[] { Coin("ETH", 1, 0, 1, 0.05, 3000) };
        stuck.BalancesFailures = int.MaxValue;

        // Shaped like Quantower's HitBTC integration (Quantower/Examples,
        // Integrations/HitBTCVendor/TradingVendor.cs: GetAccounts): neither Balance nor an
        // account currency is ever set.
        CryptoAccount hit = Bind(new CryptoAccount(), hitbtc, "hitbtc");
        hit.Id = "HitBTC";
        hit.Name = "HitBTC";
        hit.Balances = new CryptoAssetBalances[] { Coin("BTC", 0.01, 0, 0.01, 0.01, 960) };

        Account liveAccount = Bind(new Account(), live, "ib-live");
        liveAccount.Id = "U7654321";
        liveAccount.Name = "Live";
        liveAccount.AccountCurrency = Currency("USD");
        liveAccount.Balance = 5000;

        Account gone = Bind(new Account(), kraken, "kraken");
        gone.Id = "K-1";
        gone.Name = "Kraken spot";
        gone.AccountCurrency = Currency("EUR");
        gone.Balance = 75.5;

        Core.Instance.AddAccount(crypto);
        Core.Instance.AddAccount(broken);
        Core.Instance.AddAccount(busy);
        Core.Instance.AddAccount(stuck);
        Core.Instance.AddAccount(futures);
        Core.Instance.AddAccount(duplicate);
        Core.Instance.AddAccount(offline);
        Core.Instance.AddAccount(hit);
        Core.Instance.AddAccount(liveAccount);
        Core.Instance.AddAccount(gone);
        Core.Instance.AddRacingAccount(orphan);
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
        exchange.Name = "jroe - EXCHANGE";
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
        margin.Name = "jroe - MARGIN";
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

        // E-mail addresses in names: one the connection also gives as an AdditionalInfo item
        // (cut out by the bridge), one it does not (masked by the reader).
        Connection mailed = Conn("mailed", "Broker of jane.roe@example.org", ConnectionState.Connected);
        Account known = Bind(new Account(), mailed, "mailed");
        known.Id = "mail-1";
        known.Name = "jane.roe@example.org (main)";
        known.AccountCurrency = Currency("USD");
        known.Balance = 1;
        known.AdditionalInfo = new AdditionalInfoCollection(Info("email", "Email", "jane.roe@example.org"));
        Account unknown = Bind(new Account(), mailed, "mailed");
        unknown.Id = "mail-2";
        unknown.Name = "Joint <j.doe+fx@example.net>";
        unknown.AccountCurrency = Currency("USD");
        unknown.Balance = 2;

        Core.Instance.AddAccount(exchange);
        Core.Instance.AddAccount(margin);
        Core.Instance.AddAccount(zero);
        Core.Instance.AddAccount(known);
        Core.Instance.AddAccount(unknown);
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
        if (args[0] == "names")
        {
            List<string> identities = new List<string>(args[1].Split('|'));
            for (int i = 2; i < args.Length; i++)
                Console.Out.WriteLine(BalanceCliBridge.WithoutIdentities(args[i], identities) ?? "-");
            return 0;
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
        else if (mode == "drop")
        {
            // While the Strategy runs: IB live loses its connection, and the market data
            // connection and Kraken's are disconnected by the user.
            live.State = ConnectionState.ConnectionLost;
            dxfeed.State = ConnectionState.Disconnected;
            kraken.State = ConnectionState.Disconnected;
            futures.RaiseUpdated();
            if (!WaitFor(bridge.ExportPath, "\"State\": \"ConnectionLost\"", 5000))
                code = 4;
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
