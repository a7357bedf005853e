// A stub of the part of Quantower's TradingPlatform.BusinessLayer API that BalanceCliBridge.cs
// uses, so that the bridge compiles and runs under Debian's mono (mcs -target:library).
//
// Member names and types mirror the documented API (https://api.quantower.com/docs/, the KB
// pages "access-to-crypto-account-and-balances" and "access-to-symbol-account-additional-fields")
// and the decompiled v1.142.20 DLL (the McNultyyy/Quantower.TradingPlatform.BusinessLayer
// repository on GitHub). Real setters are private; here they are public so that the test
// harness can build sample accounts. Members marked "stub only" do not exist in Quantower and
// must never be used by the bridge.
using System;
using System.Collections;
using System.Collections.Generic;

namespace TradingPlatform.BusinessLayer
{
    // In Quantower's order (ConnectionState.cs, ConnectionType.cs of the decompiled DLL).
    public enum ConnectionState { Connected, Connecting, Disconnected, Disconnecting, ConnectionLost, Fail }

    public enum ConnectionType { General, TradingSimulator, HistoryPlayer, Backtester, Technical }

    public enum StrategyLoggingLevel { Trading, Info, Error }

    public enum AccountBalanceEventReason { New, Update }

    // Connection settings: the real SettingItem has many more members (Text, SortIndex,
    // Relation, ...); the bridge reads Name and Value. A group's Value is its IList<SettingItem>,
    // a password's a PasswordHolder, a string setting's the string.
    public abstract class SettingItem
    {
        public string Name { get; set; }
        public virtual object Value { get; set; }
    }

    public sealed class SettingItemString : SettingItem
    {
        public SettingItemString(string name, string value)
        {
            Name = name;
            Value = value;
        }
    }

    public sealed class PasswordHolder
    {
        public string Password { get; set; }
    }

    public sealed class SettingItemPassword : SettingItem
    {
        public SettingItemPassword(string name, PasswordHolder holder)
        {
            Name = name;
            Value = holder;
        }
    }

    public sealed class SettingItemGroup : SettingItem
    {
        public SettingItemGroup(string name, IList<SettingItem> items)
        {
            Name = name;
            Value = new List<SettingItem>(items);
        }
    }

    public sealed class Connection
    {
        public Connection()
        {
            Settings = new List<SettingItem>();
        }

        public string Id { get; set; }
        public string Name { get; set; }
        public string VendorName { get; set; }
        public ConnectionState State { get; set; }
        public ConnectionType Type { get; set; }
        public IList<SettingItem> Settings { get; set; }
    }

    public sealed class ConnectionsManager
    {
        private readonly List<Connection> connections = new List<Connection>();

        public Connection[] All
        {
            get { lock (connections) { return connections.ToArray(); } }
        }

        public Connection[] Connected
        {
            get
            {
                List<Connection> found = new List<Connection>();
                foreach (Connection c in All)
                {
                    if (c.State == ConnectionState.Connected)
                        found.Add(c);
                }
                return found.ToArray();
            }
        }

        public void Add(Connection connection) // stub only (Quantower: CreateConnection)
        {
            lock (connections)
            {
                if (!connections.Contains(connection))
                    connections.Add(connection);
            }
        }
    }

    public class Asset
    {
        public string Id { get; set; }
        public string Name { get; set; }
    }

    public abstract class BusinessObject
    {
        public string ConnectionId { get; set; }
        private Connection connection;
        public virtual Connection Connection
        {
            get { return connection; }
        }
        public void SetConnection(Connection value) // stub only
        {
            connection = value;
        }
    }

    public enum ComparingType { None, Int, Double, String, DateTime, Long }

    // The real item also has ToolTipKey, FormatingType, CustomAssetID, IsLink, EditingInfo and
    // FormattingDescription; the bridge reads none of them.
    public class AdditionalInfoItem
    {
        public string Id { get; set; }
        public string GroupInfo { get; set; }
        public int SortIndex { get; set; }
        public string NameKey { get; set; }
        public ComparingType DataType { get; set; }
        public object Value { get; set; }
        public bool Hidden { get; set; }
        public bool Visible { get; set; }

        public AdditionalInfoItem()
        {
            Visible = true;
        }

        public void Update(AdditionalInfoItem item)
        {
            Id = item.Id;
            GroupInfo = item.GroupInfo;
            SortIndex = item.SortIndex;
            NameKey = item.NameKey;
            DataType = item.DataType;
            Value = item.Value;
            Hidden = item.Hidden;
            Visible = item.Visible;
        }

        public object Clone()
        {
            AdditionalInfoItem copy = new AdditionalInfoItem();
            copy.Update(this);
            return copy;
        }
    }

    // Like Quantower's: one item per Id (a vendor's later item with the same Id updates it), and
    // readers get copies (Items and TryGetItem return clones).
    public class AdditionalInfoCollection : IEnumerable<AdditionalInfoItem>
    {
        private readonly List<AdditionalInfoItem> items = new List<AdditionalInfoItem>();
        private readonly object sync = new object();

        public AdditionalInfoCollection(params AdditionalInfoItem[] items)
        {
            foreach (AdditionalInfoItem item in items)
                Add(item);
        }

        public void Add(AdditionalInfoItem item) // internal in Quantower (filled from vendor messages)
        {
            lock (sync)
            {
                AdditionalInfoItem existing = items.Find(delegate (AdditionalInfoItem i) { return i.Id == item.Id; });
                if (existing == null)
                {
                    existing = new AdditionalInfoItem();
                    items.Add(existing);
                }
                existing.Update(item);
            }
        }

        public int Count { get { lock (sync) { return items.Count; } } }

        public AdditionalInfoItem this[string key]
        {
            get
            {
                AdditionalInfoItem item;
                if (TryGetItem(key, out item))
                    return item;
                throw new KeyNotFoundException();
            }
        }

        public IEnumerable<AdditionalInfoItem> Items
        {
            get
            {
                List<AdditionalInfoItem> copies = new List<AdditionalInfoItem>();
                lock (sync)
                {
                    foreach (AdditionalInfoItem item in items)
                        copies.Add((AdditionalInfoItem)item.Clone());
                }
                return copies;
            }
        }

        public bool TryGetItem(string apiKey, out AdditionalInfoItem item)
        {
            if (apiKey == null)
                throw new ArgumentNullException("apiKey"); // a Dictionary key in Quantower
            item = null;
            lock (sync)
            {
                AdditionalInfoItem found = items.Find(delegate (AdditionalInfoItem i) { return i.Id == apiKey; });
                if (found == null)
                    return false;
                item = (AdditionalInfoItem)found.Clone();
                return true;
            }
        }

        public IEnumerator<AdditionalInfoItem> GetEnumerator()
        {
            return Items.GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }
    }

    public class Account : BusinessObject
    {
        private string name;

        public string Id { get; set; }

        public string Name
        {
            get
            {
                if (ThrowOnRead)
                    throw new InvalidOperationException("stub: this account fails when read");
                return name;
            }
            set { name = value; }
        }

        public Asset AccountCurrency { get; set; }
        public double Balance { get; set; }
        public AdditionalInfoCollection AdditionalInfo { get; set; }
        public bool ThrowOnRead { get; set; } // stub only

        public event Action<Account> Updated;

        public void RaiseUpdated() // stub only
        {
            Action<Account> handler = Updated;
            if (handler != null)
                handler(this);
        }

        public int UpdatedSubscribers // stub only
        {
            get { return Updated == null ? 0 : Updated.GetInvocationList().Length; }
        }
    }

    public class CryptoAssetBalances : BusinessObject
    {
        public string AssetId { get; set; }
        public double TotalBalance { get; set; }
        public double AvailableBalance { get; set; }
        public double ReservedBalance { get; set; }
        public double TotalInUSD { get; set; }
        public double TotalInBTC { get; set; }
    }

    public class CryptoAccountEventArgs : EventArgs
    {
        public AccountBalanceEventReason Reason { get; private set; }
        public CryptoAssetBalances Balances { get; private set; }

        public CryptoAccountEventArgs(AccountBalanceEventReason reason, CryptoAssetBalances balances)
        {
            Reason = reason;
            Balances = balances;
        }
    }

    public class CryptoAccount : Account
    {
        private CryptoAssetBalances[] balances;
        private int balancesFailures;

        // Quantower: Dictionary.Values.ToArray() without a lock, which throws when the vendor
        // thread changes the dictionary meanwhile; here the next BalancesFailures reads throw.
        public CryptoAssetBalances[] Balances
        {
            get
            {
                if (balancesFailures > 0)
                {
                    balancesFailures--;
                    BalancesReads++;
                    throw new InvalidOperationException("Collection was modified; enumeration operation may not execute.");
                }
                BalancesReads++;
                return balances;
            }
            set { balances = value; }
        }

        public int BalancesFailures // stub only
        {
            get { return balancesFailures; }
            set { balancesFailures = value; }
        }

        public int BalancesReads { get; set; } // stub only

        public event EventHandler<CryptoAccountEventArgs> BalanceUpdated;

        public void RaiseBalanceUpdated(CryptoAssetBalances balances) // stub only
        {
            EventHandler<CryptoAccountEventArgs> handler = BalanceUpdated;
            if (handler != null)
                handler(this, new CryptoAccountEventArgs(AccountBalanceEventReason.Update, balances));
        }

        public int BalanceUpdatedSubscribers // stub only
        {
            get { return BalanceUpdated == null ? 0 : BalanceUpdated.GetInvocationList().Length; }
        }
    }

    public sealed class Core
    {
        private static readonly Core instance = new Core();
        private readonly List<Account> accounts = new List<Account>();
        private readonly List<Account> racing = new List<Account>();
        private readonly ConnectionsManager connections = new ConnectionsManager();

        public static Core Instance { get { return instance; } }

        public ConnectionsManager Connections { get { return connections; } }

        // Quantower returns the accounts of connected connections only, as an array
        // (Connections.Connected.SelectMany(c => c.BusinessObjects.Accounts)).
        public Account[] Accounts
        {
            get
            {
                List<Account> found = new List<Account>();
                lock (accounts)
                {
                    foreach (Account account in accounts)
                    {
                        Connection c = account.Connection;
                        if (c != null && c.State == ConnectionState.Connected)
                            found.Add(account);
                    }
                    found.AddRange(racing);
                }
                return found.ToArray();
            }
        }

        public void AddAccount(Account account) // stub only
        {
            lock (accounts)
            {
                accounts.Add(account);
                if (account.Connection != null)
                    connections.Add(account.Connection);
            }
        }

        // Stub only: listed whatever its connection's state, as when the connection drops (or
        // goes away) between Core.Accounts and the bridge's read of the account.
        public void AddRacingAccount(Account account)
        {
            lock (accounts) { racing.Add(account); }
        }
    }

    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public class InputParameterAttribute : Attribute
    {
        public string Name { get; private set; }
        public int SortIndex { get; private set; }
        public double Minimum { get; private set; }
        public double Maximum { get; private set; }
        public double Increment { get; private set; }
        public int DecimalPlaces { get; private set; }

        public InputParameterAttribute(string name = "", int sortIndex = 0, double minimum = -2147483648,
            double maximum = 2147483647, double increment = 0.01, int decimalPlaces = 2,
            object[] variants = null)
        {
            Name = name;
            SortIndex = sortIndex;
            Minimum = minimum;
            Maximum = maximum;
            Increment = increment;
            DecimalPlaces = decimalPlaces;
        }
    }

    public abstract class Strategy
    {
        public string Name { get; set; }
        public string Description { get; set; }

        protected virtual void OnCreated() { }
        protected virtual void OnRun() { }
        protected virtual void OnStop() { }
        protected virtual void OnRemove() { }

        // Quantower catches and logs what OnRun/OnStop throw; so does the stub.
        public void Run()
        {
            try { OnRun(); }
            catch (Exception ex) { Log("OnRun failed: " + ex.Message, StrategyLoggingLevel.Error); }
        }

        public void Stop()
        {
            try { OnStop(); }
            catch (Exception ex) { Log("OnStop failed: " + ex.Message, StrategyLoggingLevel.Error); }
        }

        protected internal void Log(string message, StrategyLoggingLevel level = StrategyLoggingLevel.Info)
        {
            Console.Error.WriteLine("[" + level + "] " + message);
        }
    }
}
