// BalanceCliBridge: a Quantower Strategy that exports the balances of every connected account
// for balancecli, as the "balancecli.quantower/1" document (revision 2).
//
// Quantower has no network API, only its in-process C# API. This Strategy reads
// Core.Instance.Connections.All and Core.Instance.Accounts (Account and CryptoAccount with its
// Balances) and writes one JSON document:
//   - to a file, atomically (temp file + File.Replace), every N seconds and shortly after an
//     account or crypto balance update, and/or
//   - over HTTP on http://127.0.0.1:PORT/ only, behind "Authorization: Bearer <token>".
// It is read-only: it never places, changes or cancels orders.
//
// Connections lists every connection with its State; one that is not connected also lists the
// accounts this Strategy saw on it while it was (null: never seen connected since it started),
// because Quantower then leaves its accounts out of Core.Instance.Accounts.
//
// Balance is null when the connection does not maintain it: Quantower's own crypto integrations
// never set Account.Balance and mark it with an AdditionalInfo item {Id = "Balance", Hidden =
// true} (Quantower/Examples, Integrations/Bitfinex/BitfinexVendor/BitfinexTradingVendor.cs), or
// set no account currency either (Integrations/HitBTCVendor/TradingVendor.cs); the 0 the
// property then holds is not a balance.
//
// An account that cannot be read is exported with an "Error" text instead of its balances, never
// left out.
//
// Privacy: the user's login (the connection's login settings, the personal AdditionalInfo
// values, Bitfinex's user name) is cut out of account and connection names. Only AdditionalInfo
// items with numeric or short text values are exported, and never personal data: an item whose
// Id or NameKey names an e-mail, login, user name, phone, address, owner or other person's name,
// a secret or an identity document, nor a text value that looks like an e-mail address or a
// phone number. Keys are matched on named markers ("username", "owner", "phone", ...), not on
// "user" alone, so numbers such as "userPnl" or "userSwaps" (Bitfinex's margin account) stay.
//
// Written in conservative C# (no string interpolation, records or tuples) so that it compiles in
// Quantower (.NET 8) and with mono's mcs. No external JSON library: strings are escaped by hand.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using TradingPlatform.BusinessLayer;

namespace BalanceCli.Quantower
{
    public class BalanceCliBridge : Strategy
    {
        public const string FormatVersion = "balancecli.quantower/1";
        // Revision 2 adds Connections and an account's Error; Format stays the same so that a
        // balancecli that reads revision 1 still reads this one.
        public const int Revision = 2;
        private const int BalancesAttempts = 5;
        private const int BalancesRetryMilliseconds = 10;
        // Two letters ("US" in a Country setting) would cut ordinary words out of names.
        private const int MinIdentityLength = 3;
        private const string BitfinexVendor = "Bitfinex";
        private static readonly char[] NameSeparators = new char[] {
            ' ', '-', '\u2013', '\u2014', ':', '|', '/', '\\', ',', ';', '.', '_', '@', '#', '\t' };
        private const int MaxTextLength = 64;
        private const int MinTokenLength = 16;
        private const int UpdateDelayMilliseconds = 1000;

        // The AdditionalInfo Id with which a connection says that it does not maintain Balance.
        private const string BalanceInfoId = "Balance";

        // Personal data in an Id or NameKey, matched on its letters and digits in lower case
        // ("User_Name", "userName" and "USERNAME" all read "username"). Fragments found anywhere:
        private static readonly string[] PersonalFragments = new string[] {
            "mail", "login", "logon", "signin", "username", "userid", "phone", "mobile", "address",
            "street", "postal", "postcode", "zipcode", "owner", "holder", "firstname", "lastname",
            "middlename", "fullname", "givenname", "familyname", "surname", "nickname", "realname",
            "displayname", "legalname", "clientname", "customername", "tradername", "personname",
            "membername", "beneficiary", "contact", "birth", "passport", "nationalid", "taxid",
            "socialsecurity", "cardnumber", "passw", "secret", "apikey", "accesstoken",
            "refreshtoken", "authtoken", "sessiontoken", "bearertoken", "telegram", "whatsapp",
            "skype"
        };

        // Short words that would match inside harmless words ("city" in "velocity"): only as a
        // whole word of a camelCase or separated key ("zip", "homeCity", "IBAN").
        private static readonly string[] PersonalWords = new string[] {
            "ssn", "iban", "zip", "dob", "fax", "tel", "city", "country", "pin", "ip"
        };

        // A key that is only this word names the person, or a credential, by itself.
        private static readonly string[] PersonalAlone = new string[] {
            "name", "user", "client", "customer", "trader", "person", "member", "token", "key"
        };

        [InputParameter("Export file path (empty: no file)", 10)]
        public string ExportPath = DefaultExportPath();

        [InputParameter("Export every N seconds", 20, 1, 86400, 1, 0)]
        public int IntervalSeconds = 30;

        [InputParameter("HTTP port on 127.0.0.1 (0: no HTTP)", 30, 0, 65535, 1, 0)]
        public int HttpPort = 0;

        [InputParameter("HTTP bearer token (at least 16 characters)", 40)]
        public string BearerToken = "";

        private readonly object exportLock = new object();
        private readonly object subscriptionLock = new object();
        private readonly object memoryLock = new object();
        private readonly Dictionary<string, List<string>> seenAccounts = new Dictionary<string, List<string>>();
        private readonly List<Account> subscribedAccounts = new List<Account>();
        private readonly List<CryptoAccount> subscribedCryptoAccounts = new List<CryptoAccount>();
        private Timer periodicTimer;
        private Timer updateTimer;
        private HttpListener listener;
        private Thread listenerThread;
        private volatile bool running;
        private byte[] tokenBytes;

        public BalanceCliBridge()
        {
            this.Name = "BalanceCliBridge";
            this.Description = "Exports account balances for balancecli (read-only)";
        }

        public static string DefaultExportPath()
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return Path.Combine(Path.Combine(home, "quantower"), "balancecli-export.json");
        }

        protected override void OnRun()
        {
            bool toFile = !string.IsNullOrEmpty(ExportPath);
            if (!toFile && HttpPort <= 0)
            {
                Log("Nothing to do: set an export file path or an HTTP port.", StrategyLoggingLevel.Error);
                return;
            }
            running = true;
            SubscribeToAccounts();
            if (toFile)
                ExportToFile();
            if (HttpPort > 0)
                StartHttp();
            int period = Math.Max(1, IntervalSeconds) * 1000;
            periodicTimer = new Timer(OnPeriodicTimer, null, period, period);
            updateTimer = new Timer(OnUpdateTimer, null, Timeout.Infinite, Timeout.Infinite);
        }

        protected override void OnStop()
        {
            running = false;
            DisposeTimer(ref periodicTimer);
            DisposeTimer(ref updateTimer);
            UnsubscribeFromAccounts();
            StopHttp();
        }

        // ---- timers and account events

        private static void DisposeTimer(ref Timer timer)
        {
            Timer current = timer;
            timer = null;
            if (current == null)
                return;
            using (ManualResetEvent done = new ManualResetEvent(false))
            {
                // Wait for a running callback so that no export starts after OnStop returns.
                if (current.Dispose(done))
                    done.WaitOne(5000);
            }
        }

        private void OnPeriodicTimer(object state)
        {
            if (!running)
                return;
            SubscribeToAccounts();
            if (!string.IsNullOrEmpty(ExportPath))
                ExportToFile();
        }

        private void OnUpdateTimer(object state)
        {
            if (running && !string.IsNullOrEmpty(ExportPath))
                ExportToFile();
        }

        // Crypto balances can update many times a second: coalesce a burst into one export.
        private void ScheduleUpdateExport()
        {
            Timer timer = updateTimer;
            if (!running || timer == null)
                return;
            try
            {
                timer.Change(UpdateDelayMilliseconds, Timeout.Infinite);
            }
            catch (ObjectDisposedException)
            {
            }
        }

        private void OnAccountUpdated(Account account)
        {
            ScheduleUpdateExport();
        }

        private void OnBalanceUpdated(object sender, CryptoAccountEventArgs e)
        {
            ScheduleUpdateExport();
        }

        // Accounts appear when a connection connects: subscribe to the new ones on every tick.
        private void SubscribeToAccounts()
        {
            Account[] accounts;
            try
            {
                accounts = Core.Instance.Accounts;
            }
            catch (Exception ex)
            {
                Log("Cannot read the accounts: " + ex.Message, StrategyLoggingLevel.Error);
                return;
            }
            if (accounts == null)
                return;
            lock (subscriptionLock)
            {
                if (!running)
                    return;
                foreach (Account account in accounts)
                {
                    if (account == null || ContainsReference(subscribedAccounts, account))
                        continue;
                    try
                    {
                        account.Updated += OnAccountUpdated;
                        subscribedAccounts.Add(account);
                        CryptoAccount crypto = account as CryptoAccount;
                        if (crypto != null)
                        {
                            crypto.BalanceUpdated += OnBalanceUpdated;
                            subscribedCryptoAccounts.Add(crypto);
                        }
                    }
                    catch (Exception ex)
                    {
                        Log("Cannot subscribe to an account: " + ex.Message, StrategyLoggingLevel.Error);
                    }
                }
            }
        }

        private static bool ContainsReference(List<Account> list, Account account)
        {
            foreach (Account item in list)
            {
                if (object.ReferenceEquals(item, account))
                    return true;
            }
            return false;
        }

        private void UnsubscribeFromAccounts()
        {
            lock (subscriptionLock)
            {
                foreach (Account account in subscribedAccounts)
                {
                    try { account.Updated -= OnAccountUpdated; }
                    catch (Exception) { }
                }
                foreach (CryptoAccount crypto in subscribedCryptoAccounts)
                {
                    try { crypto.BalanceUpdated -= OnBalanceUpdated; }
                    catch (Exception) { }
                }
                subscribedAccounts.Clear();
                subscribedCryptoAccounts.Clear();
            }
        }

        // ---- the file

        private void ExportToFile()
        {
            lock (exportLock)
            {
                string path = ExportPath;
                string temp = null;
                try
                {
                    path = Path.GetFullPath(ExpandHome(path));
                    string directory = Path.GetDirectoryName(path);
                    if (!string.IsNullOrEmpty(directory))
                        Directory.CreateDirectory(directory);
                    byte[] data = new UTF8Encoding(false).GetBytes(BuildDocument());
                    temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
                    using (FileStream stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                    {
                        stream.Write(data, 0, data.Length);
                        stream.Flush(true);
                    }
                    ReplaceFile(temp, path);
                    temp = null;
                }
                catch (Exception ex)
                {
                    Log("Cannot write the export file " + path + ": " + ex.Message, StrategyLoggingLevel.Error);
                }
                finally
                {
                    if (temp != null)
                    {
                        try { File.Delete(temp); }
                        catch (Exception) { }
                    }
                }
            }
        }

        private static string ExpandHome(string path)
        {
            if (path == "~" || path.StartsWith("~/") || path.StartsWith("~\\"))
            {
                string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                return home + path.Substring(1);
            }
            return path;
        }

        // A reader sees the old or the new document, never half of one. On Windows the target
        // may be open by a reader for a moment (sharing violation): retry a few times.
        private static void ReplaceFile(string temp, string path)
        {
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    if (File.Exists(path))
                        File.Replace(temp, path, null);
                    else
                        File.Move(temp, path);
                    return;
                }
                catch (IOException)
                {
                    if (attempt >= 4)
                        throw;
                    Thread.Sleep(100);
                }
                catch (UnauthorizedAccessException)
                {
                    if (attempt >= 4)
                        throw;
                    Thread.Sleep(100);
                }
            }
        }

        // ---- HTTP on 127.0.0.1

        private void StartHttp()
        {
            string token = BearerToken == null ? "" : BearerToken.Trim();
            if (token.Length < MinTokenLength)
            {
                Log("HTTP not started: set a bearer token of at least " + MinTokenLength +
                    " characters (e.g. from: python -c \"import secrets; print(secrets.token_urlsafe(32))\").",
                    StrategyLoggingLevel.Error);
                return;
            }
            tokenBytes = Encoding.UTF8.GetBytes(token);
            string port = HttpPort.ToString(CultureInfo.InvariantCulture);
            // 127.0.0.1 needs no URL reservation under mono; on Windows (http.sys) a non-admin
            // user may only be allowed "localhost": fall back to it. Requests from anything but
            // the loopback interface are refused below either way.
            string[] prefixes = new string[] { "http://127.0.0.1:" + port + "/", "http://localhost:" + port + "/" };
            foreach (string prefix in prefixes)
            {
                HttpListener candidate = new HttpListener();
                try
                {
                    candidate.Prefixes.Add(prefix);
                    candidate.Start();
                }
                catch (Exception ex)
                {
                    Log("Cannot listen on " + prefix + ": " + ex.Message, StrategyLoggingLevel.Error);
                    try { candidate.Close(); }
                    catch (Exception) { }
                    continue;
                }
                listener = candidate;
                listenerThread = new Thread(ServeLoop);
                listenerThread.IsBackground = true;
                listenerThread.Name = "BalanceCliBridge HTTP";
                listenerThread.Start();
                Log("Serving the export on " + prefix + " (bearer token required).");
                return;
            }
            Log("HTTP not started. On Windows, allow the URL once with: netsh http add urlacl url=http://127.0.0.1:" +
                port + "/ user=%USERNAME%", StrategyLoggingLevel.Error);
        }

        private void StopHttp()
        {
            HttpListener current = listener;
            listener = null;
            if (current != null)
            {
                try { current.Stop(); }
                catch (Exception) { }
                try { current.Close(); }
                catch (Exception) { }
            }
            Thread thread = listenerThread;
            listenerThread = null;
            if (thread != null)
                thread.Join(5000);
        }

        private void ServeLoop()
        {
            HttpListener current = listener;
            while (running && current != null && current.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = current.GetContext();
                }
                catch (Exception)
                {
                    return; // stopped
                }
                try
                {
                    Serve(context);
                }
                catch (Exception ex)
                {
                    Log("HTTP request failed: " + ex.Message, StrategyLoggingLevel.Error);
                    try { context.Response.Abort(); }
                    catch (Exception) { }
                }
            }
        }

        private void Serve(HttpListenerContext context)
        {
            HttpListenerRequest request = context.Request;
            HttpListenerResponse response = context.Response;
            IPEndPoint remote = request.RemoteEndPoint;
            if (remote == null || !IPAddress.IsLoopback(remote.Address))
            {
                Reply(response, 403, "{\"error\": \"loopback only\"}");
                return;
            }
            if (!Authorized(request.Headers["Authorization"]))
            {
                response.AddHeader("WWW-Authenticate", "Bearer realm=\"balancecli\"");
                Reply(response, 401, "{\"error\": \"missing or wrong bearer token\"}");
                return;
            }
            if (request.HttpMethod != "GET" && request.HttpMethod != "HEAD")
            {
                response.AddHeader("Allow", "GET, HEAD");
                Reply(response, 405, "{\"error\": \"method not allowed\"}");
                return;
            }
            string document;
            lock (exportLock)
            {
                document = BuildDocument();
            }
            Reply(response, 200, request.HttpMethod == "HEAD" ? null : document);
        }

        private static void Reply(HttpListenerResponse response, int status, string body)
        {
            byte[] data = body == null ? new byte[0] : new UTF8Encoding(false).GetBytes(body);
            response.StatusCode = status;
            response.ContentType = "application/json; charset=utf-8";
            response.AddHeader("Cache-Control", "no-store");
            response.ContentLength64 = data.Length;
            if (data.Length > 0)
                response.OutputStream.Write(data, 0, data.Length);
            response.OutputStream.Close();
        }

        // Constant-time comparison: the time taken does not depend on where the tokens differ.
        private bool Authorized(string header)
        {
            byte[] expected = tokenBytes;
            if (expected == null || header == null)
                return false;
            const string scheme = "Bearer ";
            if (header.Length <= scheme.Length ||
                string.Compare(header, 0, scheme, 0, scheme.Length, StringComparison.OrdinalIgnoreCase) != 0)
                return false;
            byte[] given = Encoding.UTF8.GetBytes(header.Substring(scheme.Length).Trim());
            int difference = given.Length ^ expected.Length;
            for (int i = 0; i < expected.Length; i++)
            {
                byte other = i < given.Length ? given[i] : (byte)0;
                difference |= other ^ expected[i];
            }
            return difference == 0;
        }

        // ---- the document ("balancecli.quantower/1", revision 2)

        public string BuildDocument()
        {
            Connection[] connections = ReadConnections();
            Account[] accounts = null;
            try
            {
                accounts = Core.Instance.Accounts;
            }
            catch (Exception ex)
            {
                Log("Cannot read the accounts: " + ex.Message, StrategyLoggingLevel.Error);
            }
            StringBuilder json = new StringBuilder(4096);
            json.Append("{\"Format\": ");
            AppendString(json, FormatVersion);
            json.Append(", \"Revision\": ").Append(Revision.ToString(CultureInfo.InvariantCulture));
            json.Append(", \"GeneratedAt\": ");
            AppendString(json, DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            lock (memoryLock)
            {
                Dictionary<string, List<string>> identities = new Dictionary<string, List<string>>();
                List<string> entries = SerializeAccounts(connections, accounts, identities);
                json.Append(", \"Connections\": [");
                bool first = true;
                foreach (Connection connection in connections)
                {
                    string entry = SerializeConnection(connection, identities);
                    if (entry == null)
                        continue;
                    json.Append(first ? "\n  " : ",\n  ").Append(entry);
                    first = false;
                }
                json.Append(first ? "]" : "\n]");
                json.Append(", \"Accounts\": [");
                for (int i = 0; i < entries.Count; i++)
                    json.Append(i == 0 ? "\n  " : ",\n  ").Append(entries[i]);
                json.Append(entries.Count == 0 ? "]}\n" : "\n]}\n");
            }
            return json.ToString();
        }

        // Every connection, connected or not: Core.Instance.Accounts lists only the accounts of
        // connected ones (Core.Accounts is Connections.Connected.SelectMany(...) in the
        // decompiled TradingPlatform.BusinessLayer, McNultyyy/Quantower.TradingPlatform.
        // BusinessLayer: TradingPlatform/BusinessLayer/Core.cs), so without this list a dropped
        // connection would take its accounts out of a fresh export without a word.
        private Connection[] ReadConnections()
        {
            try
            {
                Connection[] all = Core.Instance.Connections.All;
                if (all != null)
                    return all;
            }
            catch (Exception ex)
            {
                Log("Cannot read the connections: " + ex.Message, StrategyLoggingLevel.Error);
            }
            return new Connection[0];
        }

        // Called with memoryLock held: the entries, and what each connected connection holds.
        // ``identities`` receives, per connection id, the user's texts found on its accounts.
        private List<string> SerializeAccounts(Connection[] connections, Account[] accounts,
            Dictionary<string, List<string>> identities)
        {
            foreach (Connection connection in connections)
            {
                try
                {
                    if (connection != null && connection.State == ConnectionState.Connected)
                        Remember(connection.Id, null);
                }
                catch (Exception)
                {
                }
            }
            List<string> entries = new List<string>();
            if (accounts == null)
                return entries;
            // First what identifies the user on each connection, from all its accounts: one
            // account's AdditionalInfo may give the e-mail address another one's name holds.
            foreach (Account account in accounts)
            {
                try
                {
                    Connection connection = account.Connection;
                    List<string> found;
                    if (!identities.TryGetValue(connection.Id, out found))
                        identities[connection.Id] = found = new List<string>();
                    foreach (string identity in Identities(connection, account.AdditionalInfo))
                    {
                        if (!found.Contains(identity))
                            found.Add(identity);
                    }
                }
                catch (Exception)
                {
                }
            }
            foreach (Account account in accounts)
            {
                string entry = null;
                try
                {
                    entry = SerializeAccount(account, identities);
                }
                catch (Exception ex)
                {
                    // Never silently left out: the reader reports the account as unreadable.
                    string reason = ex is BalancesChangingException ? ex.Message
                        : "reading the account failed (" + ex.GetType().Name + ")";
                    Log("Account " + SafeId(account) + " exported with an error: " + reason, StrategyLoggingLevel.Error);
                    entry = ErrorEntry(account, reason);
                }
                if (entry == null)
                    continue;
                entries.Add(entry);
                try
                {
                    Remember(account.Connection.Id, account.Id);
                }
                catch (Exception)
                {
                }
            }
            return entries;
        }

        // The accounts seen on each connection while it was connected (for as long as this
        // Strategy runs), so that the export can name them once the connection is down.
        private void Remember(string connectionId, string accountId)
        {
            if (connectionId == null)
                return;
            List<string> ids;
            if (!seenAccounts.TryGetValue(connectionId, out ids))
            {
                ids = new List<string>();
                seenAccounts[connectionId] = ids;
            }
            if (accountId != null && !ids.Contains(accountId))
                ids.Add(accountId);
        }

        private string SerializeConnection(Connection connection, Dictionary<string, List<string>> identities)
        {
            try
            {
                if (connection == null || connection.Id == null)
                    return null;
                List<string> found;
                if (!identities.TryGetValue(connection.Id, out found))
                    found = Identities(connection, null);
                StringBuilder json = new StringBuilder(256);
                json.Append("{\"Id\": ");
                AppendString(json, connection.Id);
                json.Append(", \"Name\": ");
                AppendString(json, WithoutIdentities(connection.Name, found));
                json.Append(", \"State\": ");
                AppendString(json, connection.State.ToString());
                json.Append(", \"Type\": ");
                AppendString(json, connection.Type.ToString());
                if (connection.State != ConnectionState.Connected)
                {
                    // null: never seen connected since this Strategy started.
                    json.Append(", \"Accounts\": ");
                    List<string> ids;
                    if (seenAccounts.TryGetValue(connection.Id, out ids))
                        AppendStrings(json, ids);
                    else
                        json.Append("null");
                }
                json.Append('}');
                return json.ToString();
            }
            catch (Exception ex)
            {
                Log("Connection skipped: " + ex.GetType().Name, StrategyLoggingLevel.Error);
                return null;
            }
        }

        private static string SafeId(Account account)
        {
            try
            {
                return account == null ? "(null)" : (account.ConnectionId + ":" + account.Id);
            }
            catch (Exception)
            {
                return "(unreadable)";
            }
        }

        // An account that could not be read: what identifies it, and why. Balance is null (not
        // left out) so that a revision 1 reader still reads the document.
        private static string ErrorEntry(Account account, string reason)
        {
            string id;
            string connectionId = null;
            string connectionName = null;
            try
            {
                id = account.Id;
            }
            catch (Exception)
            {
                return null; // nothing to name it by
            }
            if (id == null)
                return null;
            try
            {
                connectionId = account.ConnectionId;
                Connection connection = account.Connection;
                if (connection != null)
                    connectionName = WithoutIdentities(connection.Name, Identities(connection, null));
            }
            catch (Exception)
            {
            }
            StringBuilder json = new StringBuilder(256);
            json.Append("{\"Id\": ");
            AppendString(json, id);
            json.Append(", \"Name\": null, \"ConnectionId\": ");
            AppendString(json, connectionId);
            json.Append(", \"ConnectionName\": ");
            AppendString(json, connectionName);
            json.Append(", \"AccountCurrency\": null, \"Balance\": null, \"AdditionalInfo\": [], \"Error\": ");
            AppendString(json, reason);
            json.Append('}');
            return json.ToString();
        }

        private static string SerializeAccount(Account account, Dictionary<string, List<string>> identitiesByConnection)
        {
            if (account == null)
                return null;
            Connection connection = account.Connection;
            // Quantower lists only connected connections' accounts, but a connection can drop
            // between the listing and this read (the Connections list then says so).
            if (connection == null || connection.State != ConnectionState.Connected)
                return null;
            AdditionalInfoCollection info = account.AdditionalInfo;
            List<string> identities;
            if (connection.Id == null || !identitiesByConnection.TryGetValue(connection.Id, out identities))
                identities = Identities(connection, info);
            CryptoAccount crypto = account as CryptoAccount;
            CryptoAssetBalances[] balances = crypto == null ? null : CopyBalances(crypto);
            StringBuilder json = new StringBuilder(512);
            json.Append("{\"Id\": ");
            AppendString(json, account.Id);
            json.Append(", \"Name\": ");
            AppendString(json, AccountName(account.Name, connection, identities));
            json.Append(", \"ConnectionId\": ");
            AppendString(json, account.ConnectionId);
            json.Append(", \"ConnectionName\": ");
            AppendString(json, WithoutIdentities(connection.Name, identities));
            json.Append(", \"AccountCurrency\": ");
            Asset currency = account.AccountCurrency;
            AppendString(json, currency == null ? null : (currency.Name ?? currency.Id));
            json.Append(", \"Balance\": ");
            // A crypto account without an account currency has no Balance: Quantower's HitBTC
            // integration sets neither (Quantower/Examples, Integrations/HitBTCVendor/
            // TradingVendor.cs), and the 0 the property holds is not a balance.
            if (BalanceHidden(info) || (crypto != null && currency == null))
                json.Append("null");
            else
                AppendNumber(json, account.Balance);
            json.Append(", \"AdditionalInfo\": [");
            AppendAdditionalInfo(json, info);
            json.Append(']');
            if (crypto != null)
            {
                json.Append(", \"Balances\": [");
                AppendBalances(json, balances);
                json.Append(']');
            }
            json.Append('}');
            return json.ToString();
        }

        private static void AppendBalances(StringBuilder json, CryptoAssetBalances[] balances)
        {
            if (balances == null)
                return;
            bool first = true;
            foreach (CryptoAssetBalances item in balances)
            {
                if (item == null)
                    continue;
                if (!first)
                    json.Append(", ");
                first = false;
                json.Append("{\"AssetId\": ");
                AppendString(json, item.AssetId);
                json.Append(", \"TotalBalance\": ");
                AppendNumber(json, item.TotalBalance);
                json.Append(", \"ReservedBalance\": ");
                AppendNumber(json, item.ReservedBalance);
                json.Append(", \"AvailableBalance\": ");
                AppendNumber(json, item.AvailableBalance);
                json.Append(", \"TotalInBTC\": ");
                AppendNumber(json, item.TotalInBTC);
                json.Append(", \"TotalInUSD\": ");
                AppendNumber(json, item.TotalInUSD);
                json.Append('}');
            }
        }

        // CryptoAccount.Balances is Dictionary.Values.ToArray() without a lock (decompiled
        // TradingPlatform/BusinessLayer/CryptoAccount.cs), while the vendor's thread adds and
        // updates assets: the copy can throw InvalidOperationException (changed during the
        // enumeration) or ArgumentException / IndexOutOfRangeException (it grew between the
        // array's allocation and the copy). Try again a few times; then the account is
        // exported with an Error, never left out.
        private static CryptoAssetBalances[] CopyBalances(CryptoAccount crypto)
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    return crypto.Balances;
                }
                catch (Exception ex)
                {
                    if (!(ex is InvalidOperationException || ex is ArgumentException || ex is IndexOutOfRangeException))
                        throw;
                    if (attempt >= BalancesAttempts)
                        throw new BalancesChangingException(attempt, ex);
                    Thread.Sleep(BalancesRetryMilliseconds * attempt);
                }
            }
        }

        private sealed class BalancesChangingException : Exception
        {
            public BalancesChangingException(int attempts, Exception inner)
                : base("its crypto balances kept changing while being copied (" + inner.GetType().Name +
                       ", " + attempts.ToString(CultureInfo.InvariantCulture) + " attempts)", inner)
            {
            }
        }

        // ---- names without the user's login

        // The official Bitfinex integration names its accounts "{Username} - EXCHANGE" and
        // "{Username} - MARGIN" with the Bitfinex user name, which it gets from the Bitfinex API,
        // not from the connection's settings (Quantower/Examples, Integrations/Bitfinex/
        // BitfinexVendor/BitfinexTradingVendor.cs: CreateExchangeAccount, CreateMarginAccount):
        // only the wallet type is kept.
        private static string AccountName(string name, Connection connection, List<string> identities)
        {
            if (name != null && connection.VendorName == BitfinexVendor)
            {
                int dash = name.LastIndexOf(" - ", StringComparison.Ordinal);
                if (dash >= 0)
                    name = name.Substring(dash + 3);
            }
            return WithoutIdentities(name, identities);
        }

        // What identifies the user: the text values of the connection's login settings (a
        // "Login" or "User name" setting, at any depth of its groups) and of the personal
        // AdditionalInfo items, which are not exported either.
        private static List<string> Identities(Connection connection, AdditionalInfoCollection info)
        {
            List<string> found = new List<string>();
            try
            {
                CollectLogins(connection.Settings, found, 0);
            }
            catch (Exception)
            {
            }
            if (info != null)
            {
                foreach (AdditionalInfoItem item in info)
                {
                    string text = item == null ? null : item.Value as string;
                    if (text != null && (LooksPersonal(item.Id) || LooksPersonal(item.NameKey) || LooksLikeContact(text)))
                        AddIdentity(found, text);
                }
            }
            return found;
        }

        private static void CollectLogins(IList<SettingItem> items, List<string> found, int depth)
        {
            if (items == null || depth > 4)
                return;
            foreach (SettingItem item in items)
            {
                if (item == null)
                    continue;
                object value = item.Value;
                IList<SettingItem> group = value as IList<SettingItem>;
                if (group != null)
                    CollectLogins(group, found, depth + 1);
                else if (value is string && LooksPersonal(item.Name))
                    AddIdentity(found, (string)value);
            }
        }

        private static void AddIdentity(List<string> found, string text)
        {
            string value = text.Trim();
            if (value.Length >= MinIdentityLength && !found.Contains(value))
                found.Add(value);
        }

        // The name without any identity found in it as a whole word (case-insensitive), and
        // without the separators and brackets that then stand alone ("jroe - Futures" is
        // "Futures", "Main (jroe)" is "Main"). Empty: null. A name without one is unchanged.
        public static string WithoutIdentities(string name, List<string> identities)
        {
            if (string.IsNullOrEmpty(name) || identities == null || identities.Count == 0)
                return name;
            List<string> longestFirst = new List<string>(identities);
            longestFirst.Sort(delegate (string a, string b) { return b.Length.CompareTo(a.Length); });
            string result = name;
            bool changed = false;
            foreach (string identity in longestFirst)
            {
                if (identity == null || identity.Length < MinIdentityLength)
                    continue;
                int start = 0;
                while (start < result.Length)
                {
                    int at = result.IndexOf(identity, start, StringComparison.OrdinalIgnoreCase);
                    if (at < 0)
                        break;
                    int end = at + identity.Length;
                    bool whole = (at == 0 || !char.IsLetterOrDigit(result[at - 1])) &&
                        (end == result.Length || !char.IsLetterOrDigit(result[end]));
                    if (!whole)
                    {
                        start = at + 1;
                        continue;
                    }
                    result = result.Substring(0, at) + result.Substring(end);
                    changed = true;
                    start = at;
                }
            }
            return changed ? Tidy(result) : name;
        }

        private static string Tidy(string name)
        {
            string result = name;
            foreach (string empty in new string[] { "()", "[]", "{}", "<>", "( )", "[ ]" })
                result = result.Replace(empty, " ");
            while (result.IndexOf("  ", StringComparison.Ordinal) >= 0)
                result = result.Replace("  ", " ");
            result = result.Trim(NameSeparators);
            if (result.Length > 2 && result[0] == '(' && result[result.Length - 1] == ')' &&
                result.IndexOf('(', 1) < 0)
                result = result.Substring(1, result.Length - 2).Trim(NameSeparators); // "(main)"
            return result.Length == 0 ? null : result;
        }

        private static bool BalanceHidden(AdditionalInfoCollection items)
        {
            AdditionalInfoItem item;
            return items != null && items.TryGetItem(BalanceInfoId, out item) && item != null && item.Hidden;
        }

        private static void AppendAdditionalInfo(StringBuilder json, AdditionalInfoCollection items)
        {
            if (items == null)
                return;
            bool first = true;
            foreach (AdditionalInfoItem item in items)
            {
                if (item == null || item.Hidden || !item.Visible || string.IsNullOrEmpty(item.Id))
                    continue;
                if (LooksPersonal(item.Id) || LooksPersonal(item.NameKey))
                    continue;
                string value = ValueJson(item.Value);
                if (value == null)
                    continue;
                if (!first)
                    json.Append(", ");
                first = false;
                json.Append("{\"Id\": ");
                AppendString(json, item.Id);
                json.Append(", \"NameKey\": ");
                AppendString(json, item.NameKey);
                json.Append(", \"Value\": ").Append(value).Append('}');
            }
        }

        // Whether an Id or NameKey names personal data (see PersonalFragments and PersonalWords).
        public static bool LooksPersonal(string key)
        {
            if (string.IsNullOrEmpty(key))
                return false;
            if (key.IndexOf('@') >= 0)
                return true;
            List<string> words = Words(key);
            string compact = string.Join("", words.ToArray());
            if (Contains(PersonalAlone, string.Join(" ", words.ToArray())))
                return true;
            foreach (string fragment in PersonalFragments)
            {
                if (compact.IndexOf(fragment, StringComparison.Ordinal) >= 0)
                    return true;
            }
            foreach (string word in words)
            {
                if (Contains(PersonalWords, word))
                    return true;
            }
            return false;
        }

        // The lower-case words of a key: split at anything but letters and digits, at a lower to
        // upper case step ("userPnl"), at letters to digits and at the end of an acronym
        // ("IPAddress": ip, address).
        private static List<string> Words(string key)
        {
            List<string> words = new List<string>();
            StringBuilder word = new StringBuilder();
            for (int i = 0; i < key.Length; i++)
            {
                char c = key[i];
                if (!char.IsLetterOrDigit(c))
                {
                    EndWord(words, word);
                    continue;
                }
                if (word.Length > 0)
                {
                    char previous = key[i - 1];
                    bool upper = char.IsUpper(c);
                    if ((upper && char.IsLower(previous)) || char.IsDigit(c) != char.IsDigit(previous) ||
                        (upper && char.IsUpper(previous) && i + 1 < key.Length && char.IsLower(key[i + 1])))
                        EndWord(words, word);
                }
                word.Append(char.ToLowerInvariant(c));
            }
            EndWord(words, word);
            return words;
        }

        private static void EndWord(List<string> words, StringBuilder word)
        {
            if (word.Length == 0)
                return;
            words.Add(word.ToString());
            word.Length = 0;
        }

        private static bool Contains(string[] list, string value)
        {
            return Array.IndexOf(list, value) >= 0;
        }

        // Whether a text value looks like an e-mail address (any '@': also chat handles) or a
        // phone number: 7 to 15 digits with phone punctuation ("+1 (555) 010-0199",
        // "+4915112345678"), but not a plain decimal number or a date.
        public static bool LooksLikeContact(string text)
        {
            if (text.IndexOf('@') >= 0)
                return true;
            string value = text.Trim();
            int digits = 0;
            int punctuation = 0;
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                if (c >= '0' && c <= '9')
                    digits++;
                else if (c == '+' && i == 0)
                    punctuation++;
                else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/')
                    punctuation++;
                else
                    return false;
            }
            if (digits < 7 || digits > 15)
                return false;
            if (value[0] == '+')
                return true;
            if (punctuation == 0 || IsPlainNumber(value) || IsDate(value))
                return false;
            return true;
        }

        private static bool IsPlainNumber(string value)
        {
            int start = value[0] == '-' ? 1 : 0;
            int dots = 0;
            for (int i = start; i < value.Length; i++)
            {
                if (value[i] == '.')
                    dots++;
                else if (value[i] < '0' || value[i] > '9')
                    return false;
            }
            return dots <= 1 && value.Length > start && value[start] != '.' && value[value.Length - 1] != '.';
        }

        // yyyy-mm-dd, yyyy/mm/dd, dd.mm.yyyy, mm/dd/yyyy (a date text, not a phone number).
        private static bool IsDate(string value)
        {
            string[] parts = value.Split('-', '/', '.');
            if (parts.Length != 3 || value.IndexOf(' ') >= 0)
                return false;
            foreach (string part in parts)
            {
                if (part.Length == 0 || part.Length > 4)
                    return false;
            }
            return parts[0].Length == 4 ? parts[1].Length <= 2 && parts[2].Length <= 2
                : parts[2].Length == 4 && parts[0].Length <= 2 && parts[1].Length <= 2;
        }

        // The JSON of an AdditionalInfo value, or null when it must not be exported.
        private static string ValueJson(object value)
        {
            if (value == null)
                return null;
            if (value is double)
                return NumberJson((double)value);
            if (value is float)
                return NumberJson((double)(float)value);
            if (value is decimal)
                return ((decimal)value).ToString(CultureInfo.InvariantCulture);
            if (value is int || value is long || value is short || value is byte || value is sbyte ||
                value is uint || value is ulong || value is ushort)
                return Convert.ToString(value, CultureInfo.InvariantCulture);
            if (value is bool)
                return (bool)value ? "true" : "false";
            string text = null;
            if (value is string)
                text = (string)value;
            else if (value is DateTime)
                text = ((DateTime)value).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            else if (value is Enum)
                text = value.ToString();
            if (text == null || text.Length > MaxTextLength || LooksLikeContact(text))
                return null;
            StringBuilder json = new StringBuilder(text.Length + 2);
            AppendString(json, text);
            return json.ToString();
        }

        private static void AppendNumber(StringBuilder json, double value)
        {
            json.Append(NumberJson(value));
        }

        // Round-trip precision, invariant culture; JSON has no NaN or Infinity.
        private static string NumberJson(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                return "null";
            return value.ToString("R", CultureInfo.InvariantCulture);
        }

        private static void AppendString(StringBuilder json, string value)
        {
            if (value == null)
            {
                json.Append("null");
                return;
            }
            json.Append('"');
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                switch (c)
                {
                    case '"': json.Append("\\\""); break;
                    case '\\': json.Append("\\\\"); break;
                    case '\n': json.Append("\\n"); break;
                    case '\r': json.Append("\\r"); break;
                    case '\t': json.Append("\\t"); break;
                    case '\b': json.Append("\\b"); break;
                    case '\f': json.Append("\\f"); break;
                    default:
                        if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                        {
                            AppendEscaped(json, c);
                            AppendEscaped(json, value[i + 1]);
                            i++;
                        }
                        else if (char.IsSurrogate(c))
                            AppendEscaped(json, '\uFFFD'); // a lone surrogate is not text
                        else if (c < ' ' || c > '~')
                            AppendEscaped(json, c); // the output stays plain ASCII
                        else
                            json.Append(c);
                        break;
                }
            }
            json.Append('"');
        }

        private static void AppendStrings(StringBuilder json, List<string> values)
        {
            json.Append('[');
            for (int i = 0; i < values.Count; i++)
            {
                if (i > 0)
                    json.Append(", ");
                AppendString(json, values[i]);
            }
            json.Append(']');
        }

        private static void AppendEscaped(StringBuilder json, char c)
        {
            json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }
    }
}
