"""TradeStation fetcher against the fake TradeStation over real sockets."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from balancecli.brokers.tradestation.broker import TradeStation
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    RateLimitedError,
)
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.config import FAST, make_ctx


def broker(fake: FakeTradeStation, api: str = "v3", secrets: dict | None = None,
           **settings) -> TradeStation:
    access, refresh = fake.issue()
    base = {"broker": "tradestation", "api": api, "base_url": fake.url,
            "token_url": fake.url + ("/oauth/token" if api == "v3" else "/v2/security/authorize"),
            "user_id": "demo_user", **FAST, **settings}
    if api == "v3":
        base.pop("user_id")
    given = {"ACCESS_TOKEN": access, "REFRESH_TOKEN": refresh, "CLIENT_ID": DEMO_CLIENT_ID,
             "CLIENT_SECRET": DEMO_CLIENT_SECRET}
    if secrets is not None:
        given = {**given, **secrets}
    return TradeStation(make_ctx("ts", base, {k: v for k, v in given.items() if v is not None}))


# -- the v2 API documentation's examples (the fake's sample answers), field group by field group

def seed_v2(ts_fake):
    b = broker(ts_fake, "v2")
    accounts = b.accounts()
    return b, accounts, b.balances(accounts)


def test_v2_accounts_from_seed_shapes(ts_fake):
    b, accounts, _ = seed_v2(ts_fake)
    cash, fut = accounts
    assert (cash.account_id, cash.name, cash.type, cash.status, cash.currency) == (
        "111111", "111111QA", "cash", "active", "USD")  # Key is a JSON number: id is a string
    assert (fut.account_id, fut.name, fut.type, fut.currency) == (
        "114277", "5430612 QA", "futures", "USD")
    assert cash.extra["Type"] == "C" and cash.extra["Status"] == "A"
    # The broker's own words for what type and status normalize.
    assert (cash.extra["TypeDescription"], cash.extra["StatusDescription"]) == ("Cash", "Active")


def test_v2_cash_balance_values_of_the_seed(ts_fake):
    _, _, result = seed_v2(ts_fake)
    assert result.errors == []
    cash = result.rows[0]
    assert cash.account_id == "111111"
    assert cash.cash == D("2870328.5200")
    assert cash.buying_power == D("2867875.219800")
    assert cash.equity == D("3249600.160200")
    assert cash.market_value == D("0")
    # 28 significant digits kept exactly, trailing zeros included.
    assert str(cash.unrealized_pnl) == "19638.14545186560000000000"
    assert str(cash.realized_pnl) == "0.0000"
    # A cash account has no margin fields: null, never 0.
    assert cash.initial_margin is None and cash.maintenance_margin is None
    assert cash.available is None and cash.withdrawable is None
    assert cash.extra["BODEquity"] == D("3247154.8600")
    assert cash.extra["DayTrades"] == 7 and cash.extra["CanDayTrade"] is True
    assert "RealTimeEquity" not in cash.extra


def test_v2_futures_balance_and_margins_of_the_seed(ts_fake):
    _, _, result = seed_v2(ts_fake)
    fut = result.rows[1]
    assert fut.cash == D("4995774.4804")
    assert fut.equity == D("3212461.98040200000000000000")
    assert fut.market_value == D("70295825.000000000000000")
    assert fut.unrealized_pnl == D("-1783312.49999800000000000000")
    assert fut.realized_pnl == D("-4225.5196")
    assert fut.initial_margin == D("2018050.0000")
    assert fut.maintenance_margin == D("1495500.0000")
    assert fut.extra["__type"] == "FuturesAccount:#TradeStation.Web.Services.DataContracts"


def test_v2_futures_currency_details_as_assets(ts_fake):
    b = broker(ts_fake, "v2")
    result = b.assets(b.accounts())
    rows = {(r.account_id, r.asset): r for r in result.rows}
    assert set(rows) == {("111111", "USD"), ("114277", "JPY"), ("114277", "USD")}
    assert rows["111111", "USD"].total == D("2870328.5200")
    jpy = rows["114277", "JPY"]
    assert jpy.total == D("-188750.0000")
    assert str(jpy.value_in_account_currency) == "-1806.2892359516153728372377831"
    assert str(jpy.conversion_rate) == "0.0095697442964323993262900015"
    assert jpy.extra["RealTimeRealizedProfitLoss"] == D("-188750.0000")
    usd = rows["114277", "USD"]
    assert (usd.total, usd.value_in_account_currency, usd.conversion_rate) == (
        D("4997606.4000"), D("4997606.4000"), D("1"))


def test_v2_single_account_answered_as_bare_object(ts_fake):
    b = broker(ts_fake, "v2", accounts=["111111"])
    account = [a for a in b.accounts() if a.account_id == "111111"]
    result = b.balances(account)
    assert [r.cash for r in result.rows] == [D("2870328.5200")]
    assert ts_fake.calls("/v2/accounts/111111/balances")


def test_v2_quota_exceeded_page_is_rate_limiting(ts_fake):
    b = broker(ts_fake, "v2", max_retries=1)
    ts_fake.inject("html", "/v2/users/", status=403,
                   body="<html><body>Quota Exceeded</body></html>")
    assert [a.account_id for a in b.accounts()] == ["111111", "114277"]  # retried once
    ts_fake.inject("html", "/v2/users/", times=5, status=403,
                   body="<html><body>Quota Exceeded</body></html>")
    with pytest.raises(RateLimitedError):
        b.accounts()


# -- v3

def test_v3_accounts_and_balances(ts_fake):
    b = broker(ts_fake)
    accounts = b.accounts()
    assert [(a.account_id, a.name, a.type) for a in accounts] == [
        ("11827391", "Long term", "cash"), ("11827392", "11827392", "margin"),
        ("210FUT01", "210FUT01", "futures")]
    result = b.balances(accounts)
    margin = result.rows[1]
    assert margin.cash == D("-4210.07")
    assert margin.buying_power == D("183012.44")
    assert str(margin.unrealized_pnl) == "23138.3992000534"
    assert margin.realized_pnl == D("-120.5")
    assert margin.extra["TodaysProfitLoss"] == "812.9"
    assert margin.extra["BalanceDetail"]["DayTrades"] == "2"
    cash = result.rows[0]
    assert cash.initial_margin is None  # not in the cash account's BalanceDetail
    assert result.skipped == []


def test_v3_margin_account_reads_the_equities_fields(ts_fake):
    """The spec's Margin example: RequiredMargin and MaintenanceRate, no futures margins."""
    b = broker(ts_fake)
    margin = b.balances(b.accounts()).rows[1]
    assert margin.account_type == "margin"
    assert margin.initial_margin == D("50356.13")  # BalanceDetail.RequiredMargin
    assert margin.maintenance_margin is None  # no MaintenanceMargin: null, never a guess
    detail = margin.extra["BalanceDetail"]
    assert detail["MaintenanceRate"] == "25178.07"  # kept as the broker sent it
    assert "RequiredMargin" not in detail and "InitialMargin" not in detail
    # A futures account still reads its futures fields; RequiredMargin there stays in extra.
    ts_fake.v3["balances"]["210FUT01"]["BalanceDetail"]["RequiredMargin"] = "1"
    futures = b.balances(b.accounts()).rows[2]
    assert (futures.initial_margin, futures.maintenance_margin) == (D("2018050"), D("1495500"))
    assert futures.extra["BalanceDetail"]["RequiredMargin"] == "1"


def test_v3_unsupported_account_type_is_listed_but_never_asked(ts_fake):
    ts_fake.include_unsupported_account = True
    b = broker(ts_fake)
    accounts = b.accounts()
    assert [(a.account_id, a.type) for a in accounts][-1] == ("123456790C", "crypto")
    for fetch in (b.balances, b.assets, lambda a: b.snapshot(a)[0],
                  lambda a: b.snapshot(a)[1]):
        result = fetch(accounts)
        assert result.errors == []
        assert "123456790C" not in {r.account_id for r in result.rows}
        [skipped] = result.skipped
        assert (skipped.profile, skipped.broker, skipped.account_id) == (
            "ts", "tradestation", "123456790C")
        assert skipped.reason == ("a crypto account: TradeStation serves balances for cash, "
                                  "margin, futures and dvp accounts only")
    assert not any("123456790C" in c.path for c in ts_fake.calls("/balances$"))


def test_v3_unsupported_type_asked_anyway_gets_the_spec_error(ts_fake):
    """What the fake answers when a client does ask (the v3 spec's Errors example)."""
    import requests

    ts_fake.include_unsupported_account = True
    access, _ = ts_fake.issue()
    body = requests.get(ts_fake.url + "/v3/brokerage/accounts/123456790C,11827391/balances",
                        headers={"Authorization": f"Bearer {access}"}, timeout=5).json()
    assert [b["AccountID"] for b in body["Balances"]] == ["11827391"]
    assert body["Errors"] == [{"AccountID": "123456790C", "Error": "Forbidden",
                               "Message": "Request not supported for account type."}]


def test_v3_account_in_errors_fails_alone(ts_fake):
    """An Errors entry for a type the endpoint serves (Cash here) stays an error."""
    ts_fake.include_error_account = True
    b = broker(ts_fake)
    result = b.balances(b.accounts())
    assert [r.account_id for r in result.rows] == ["11827391", "11827392", "210FUT01"]
    [error] = result.errors
    assert isinstance(error, BrokerError) and error.account_id == "123456789C"
    assert "Request not supported for account type" in error.message
    assert result.skipped == []


def test_v3_batches_of_at_most_25_ids(ts_fake):
    template = ts_fake.v3["balances"]["11827391"]
    ts_fake.v3["accounts"] = [
        {"AccountID": f"AC{i:04d}", "AccountType": "Cash", "Currency": "USD", "Status": "Active"}
        for i in range(60)
    ]
    ts_fake.v3["balances"] = {
        f"AC{i:04d}": {**template, "AccountID": f"AC{i:04d}", "CashBalance": f"{i}.01"}
        for i in range(60)
    }
    b = broker(ts_fake)
    result = b.balances(b.accounts())
    assert [r.cash for r in result.rows] == [D(f"{i}.01") for i in range(60)]
    sizes = sorted(len(c.path.split("/")[4].split(",")) for c in ts_fake.calls("/balances$"))
    assert sizes == [10, 25, 25]


def test_v3_assets_from_currency_details(ts_fake):
    b = broker(ts_fake)
    result = b.assets(b.accounts())
    fut = [(r.asset, r.total, r.conversion_rate) for r in result.rows if r.account_id == "210FUT01"]
    assert fut == [("USD", D("4997606.4"), D("1")),
                   ("JPY", D("-188750"), D("0.0095697442964323993262900015")),
                   ("EUR", D("12500.25"), D("1.0531"))]
    cash = [r for r in result.rows if r.account_id == "11827391"]
    assert [(r.asset, r.total, r.available) for r in cash] == [("USD", D("25731.18"), None)]


# -- rate limits

def test_a_spent_quota_pauses_the_host_until_its_reset(ts_fake):
    """X-RateLimit-Remaining: 0 on a 200: the next request waits for X-RateLimit-Reset
    instead of spending a request on a 429."""
    ts_fake.quota, ts_fake.quota_period = 1, 1.0
    b = broker(ts_fake)
    accounts = b.accounts()
    [answer] = ts_fake.calls("/v3/brokerage/accounts$")
    started = time.monotonic()
    result = b.balances(accounts)  # another category, the same host: it waits for the reset
    assert time.monotonic() - started >= 0.9
    assert [r.account_id for r in result.rows] == ["11827391", "11827392", "210FUT01"]
    assert (answer.path, ts_fake.quota) == ("/v3/brokerage/accounts", 1)


def test_a_reset_beyond_the_budget_is_rate_limited_at_once(ts_fake):
    ts_fake.quota = 1  # a 300 s window
    b = broker(ts_fake, retry_budget=5)
    accounts = b.accounts()
    started = time.monotonic()
    result = b.balances(accounts)
    assert time.monotonic() - started < 2
    assert result.rows == [] and len(result.errors) == 3
    assert all(isinstance(e, RateLimitedError) and "it asked to wait" in e.message
               for e in result.errors)
    assert ts_fake.calls("/balances$") == []  # nothing spent on a certain 429


def test_a_429_waits_for_the_quota_reset(ts_fake):
    b = broker(ts_fake, max_retries=2)
    ts_fake.inject("status", "/v3/brokerage/accounts$", status=429,
                   body={"Error": "TooManyRequests", "Message": "Rate limit exceeded."},
                   headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"})
    started = time.monotonic()
    assert len(b.accounts()) == 3
    assert time.monotonic() - started >= 0.9
    assert len(ts_fake.calls("/v3/brokerage/accounts$")) == 2


def test_a_lower_case_message_in_an_error_body_is_read(ts_fake):
    b = broker(ts_fake)
    ts_fake.inject("status", "/v3/brokerage/accounts$", status=400,
                   body={"message": "Invalid request: account list unavailable"})
    with pytest.raises(BalanceCliError) as caught:
        b.accounts()
    assert "Invalid request: account list unavailable" in caught.value.message


# -- tokens

def test_expired_token_is_refreshed_before_the_request(ts_fake):
    b = broker(ts_fake, secrets={"ACCESS_TOKEN": "stale-token-123",
                                 "ACCESS_TOKEN_EXPIRES_AT": str(int(time.time()) - 10)})
    b.accounts()
    assert ts_fake.refresh_count == 1
    assert all(c.bearer() != "stale-token-123" for c in ts_fake.calls("/v3/"))
    b.balances(b.accounts())
    assert ts_fake.refresh_count == 1  # the new token is reused


def test_rejected_token_is_refreshed_once_then_retried(ts_fake):
    b = broker(ts_fake)
    ts_fake.expire_all()
    assert len(b.accounts()) == 3
    assert ts_fake.refresh_count == 1


def test_rejected_refresh_token_is_an_auth_error(ts_fake):
    b = broker(ts_fake, secrets={"ACCESS_TOKEN": None, "REFRESH_TOKEN": "revoked-refresh-1"})
    with pytest.raises(AuthError) as info:
        b.accounts()
    assert "refresh token was rejected" in info.value.message
    assert info.value.next_step == "run: balancecli auth login ts"
    assert "revoked-refresh-1" not in str(info.value)


def test_rotated_refresh_token_is_kept(ts_fake):
    ts_fake.rotate = True
    b = broker(ts_fake, secrets={"ACCESS_TOKEN": None})
    old = b.ctx.secrets.get("REFRESH_TOKEN")
    b.accounts()
    new = b.ctx.secrets.get("REFRESH_TOKEN")
    assert new != old and new in ts_fake.refresh_tokens and old not in ts_fake.refresh_tokens
    assert float(b.ctx.secrets.get("ACCESS_TOKEN_EXPIRES_AT")) > time.time() + 1000


def test_missing_credentials_name_the_fix(ts_fake):
    b = broker(ts_fake, secrets={"ACCESS_TOKEN": None, "REFRESH_TOKEN": None})
    with pytest.raises(AuthError) as info:
        b.accounts()
    assert info.value.message == "missing credential REFRESH_TOKEN"
    assert "BALANCECLI_TS_REFRESH_TOKEN" in info.value.next_step


# -- bad payloads

@pytest.mark.parametrize("body", [
    '{"Accounts": [{"AccountID": "1", "Currency": "USD"}], "x": NaN}',
    '{"Accounts": "nope"}',
    '{"Accounts": [{"Alias": "no id"}]}',
    "[1, 2",
])
def test_malformed_account_lists(ts_fake, body):
    b = broker(ts_fake)
    ts_fake.inject("body", "/v3/brokerage/accounts$", body=body)
    with pytest.raises(BadResponseError):
        b.accounts()


def test_wrong_type_fails_that_account_only(ts_fake):
    b = broker(ts_fake)
    ts_fake.v3["balances"]["11827392"]["Equity"] = {"amount": "1"}
    ts_fake.v3["balances"]["11827391"].pop("BuyingPower")
    result = b.balances(b.accounts())
    assert [r.account_id for r in result.rows] == ["11827391", "210FUT01"]
    assert result.rows[0].buying_power is None  # missing field: null, not 0
    [error] = result.errors
    assert isinstance(error, BadResponseError) and error.account_id == "11827392"
    assert "Equity" in error.message
