//! throttles: the counters that bound password guessing and sign-up floods, and their policy.
//!
//! Each attempt is counted by one statement that increments its counter only if the policy lets
//! the attempt through, and says whether it did. It runs before the password hash, so parallel
//! attempts cannot all pass one count read before any of them was written, and a refused attempt
//! costs no hash. An attempt let through stays counted unless it succeeds; a success gives back
//! only what belongs to it. A refused attempt changes nothing: knocking on a closed door does not
//! keep it closed any longer. An attempt given back ([`give_back`]) lifts only the wait it
//! started itself: a wait that an attempt counted after it started stays, as long as the count
//! that remains earns it.
//!
//! # The policy
//!
//! Logins (`POST /auth/login`), checked in this order, each only if the ones before let it through:
//!
//! 1. **From one client address** (`CF-Connecting-IP`): [`LOGINS_FROM_ADDRESS`], 20 logins that
//!    did not succeed per 15 minutes, across all numbers (a window that starts at the first). It
//!    bounds one address guessing many numbers, and what its hashes cost us.
//! 2. **To one number from one address**: [`LOGINS_TO_NUMBER_FROM_ADDRESS`], 10 at once, then a
//!    wait of 1 minute before the next, doubling after each (2, 4, 8 ... minutes) up to 1 hour;
//!    forgotten a day after its last attempt. Someone guessing from their address slows only
//!    themselves: the number's owner, from their own address, has a counter of their own.
//! 3. **To one number from anywhere**: [`LOGINS_TO_NUMBER`], 10 at once, then a wait of 15 seconds,
//!    doubling up to 5 minutes; forgotten a day after its last attempt. It bounds guessing from
//!    many addresses. At the same count its wait is at most a quarter of (2.)'s and never over
//!    5 minutes, so after a stranger's attempt from one address the owner waits that long at
//!    most, while the stranger's own next attempt is four times further off. There is no lock
//!    that each attempt renews: a refused attempt changes nothing, so a stranger cannot keep a
//!    number closed beyond one wait of (3.); from many addresses they can keep it to one
//!    attempt per 5 minutes, which the owner shares with them, except on the owner's own
//!    networks (5.).
//! 4. A **successful** login resets the number's counters that are its owner's: (3.) and (2.) for
//!    the address it came from. A stranger's counter for their own address stays as it is, so the
//!    owner logging in does not hand them new free attempts. It gives back its own count in (1.)
//!    and nothing more, so logging in to an account whose password one knows does not reset the
//!    count of one's wrong guesses at other numbers. It also remembers the address's network (5.).
//! 5. **From the owner's own networks**: an address (an IPv6 one by its /64, as everywhere here)
//!    from which the number's account logged in successfully, or registered, less than
//!    [`LOGIN_NETWORK_REMEMBERED_SECS`] (30 days) before, each login renewing it (table
//!    `login_networks`, per account: a number registered again by someone else starts with none).
//!    A login to that number from there is limited by (2.) alone: it is neither counted in nor
//!    refused by (1.) and (3.). So the owner at home is never held by a stranger elsewhere,
//!    however many addresses the stranger has, nor by someone on their network guessing at other
//!    numbers; what is tried from there waits (2.)'s longer waits, and holds no one elsewhere.
//!    Limits: someone who shares that network (a household, a carrier's shared IPv4 address)
//!    guesses at the number at (2.)'s pace, holding the owner there with them (not elsewhere),
//!    and can tell, by (1.) letting that number through there once used up, that its owner logs
//!    in from their network. Expired rows are deleted in small batches as other logins are
//!    remembered.
//!
//! Without a client address (a local `wrangler dev` not behind Cloudflare), only (3.) applies.
//!
//! The password entered again (removing another device, resetting devices) is limited per
//! session, the one the request's token names, by [`PASSWORD_CONFIRMATIONS`] (the schedule of
//! 3.), apart from logins. A session is made only by logging in or registering, that is with the
//! password, so the holder of a stolen token has that session's count and no way to another:
//! they cannot guess through it faster, and their wrong passwords do not count against the
//! owner's own sessions, so they cannot stop the owner from removing the stolen device; nor do a
//! stranger's wrong logins.
//!
//! Groups created (`POST /conversations`) per account: [`GROUP_CREATIONS`], 30 an hour, counted
//! before anything else is checked, so a stranger cannot put someone in groups without end.
//!
//! Changes of a device's push subscription (`POST` and `DELETE /devices/me/push`, one count for
//! both) per device: [`PUSH_SUBSCRIPTION_CHANGES`], 30 an hour, counted once the request is
//! valid and before anything is stored. Each change is a write and a call to the user's hub; a
//! browser makes one when it subscribes, and again only when its push service renews the
//! subscription or the app starts over.
//!
//! Registrations (`POST /auth/register`) from one client address: `REGISTRATIONS_PER_ADDRESS_PER_HOUR`
//! attempts per hour (a window that starts at the first), checked before the hash. An attempt at
//! a number that is already taken counts like any other (it creates no account and costs no
//! hash): otherwise asking whether numbers have accounts would be unlimited.

use super::{sql, Client, DbResult};
use chrono::{DateTime, Utc};
use tokio_postgres::types::Timestamp;
use uuid::Uuid;

/// A limit per fixed window: at most `limit` attempts counted in `seconds` from the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: i32,
    pub seconds: i32,
}

/// A backoff: `free` attempts are let through at once; after the `free`-th, each next one waits
/// `first_wait_secs`, doubling after every attempt up to `max_wait_secs`. The count is forgotten
/// `forget_after_secs` after its last attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub free: i32,
    pub first_wait_secs: i32,
    pub max_wait_secs: i32,
    pub forget_after_secs: i32,
}

const MINUTE: i32 = 60;
const HOUR: i32 = 60 * MINUTE;
const DAY: i32 = 24 * HOUR;

/// (1.) above.
pub const LOGINS_FROM_ADDRESS: Window = Window { limit: 20, seconds: 15 * MINUTE };
/// (2.) above.
pub const LOGINS_TO_NUMBER_FROM_ADDRESS: Backoff =
    Backoff { free: 10, first_wait_secs: MINUTE, max_wait_secs: HOUR, forget_after_secs: DAY };
/// (3.) above.
pub const LOGINS_TO_NUMBER: Backoff =
    Backoff { free: 10, first_wait_secs: 15, max_wait_secs: 5 * MINUTE, forget_after_secs: DAY };
/// (5.) above: how long a network an account logged in from exempts its logins from (1.) and (3.).
pub const LOGIN_NETWORK_REMEMBERED_SECS: i32 = 30 * DAY;
/// The password entered again, per session.
pub const PASSWORD_CONFIRMATIONS: Backoff = LOGINS_TO_NUMBER;
/// Groups one account creates: plenty for a person, while a stranger cannot put someone in
/// thousands of groups (each one more for their every sync, listing and connect) faster than this
/// (their defence beyond it: "who can add me to groups").
pub const GROUP_CREATIONS: Window = Window { limit: 30, seconds: HOUR };
/// Changes of one device's push subscription (subscribing, unsubscribing): a browser makes a
/// few a day at most, while a script could otherwise write rows and wake the user's hub without end.
pub const PUSH_SUBSCRIPTION_CHANGES: Window = Window { limit: 30, seconds: HOUR };
/// Registrations per address are counted per hour; how many is configured.
pub const REGISTRATION_WINDOW_SECS: i32 = HOUR;

/// Expired rows deleted by each counting statement: more than each statement can create (one
/// row), so the table never holds many more rows than the live ones. The same for login_networks.
pub(super) const PURGE_BATCH: i64 = 20;

impl Backoff {
    /// Seconds to wait, after the `attempts`-th attempt counted, before the next is let through.
    pub fn wait_after(&self, attempts: i32) -> i32 {
        if attempts < self.free {
            return 0;
        }
        let doublings = u32::try_from(attempts - self.free).unwrap_or(0);
        let wait = i64::from(self.first_wait_secs).checked_shl(doublings.min(32)).unwrap_or(i64::MAX);
        wait.min(i64::from(self.max_wait_secs)) as i32
    }

    /// `wait_after(1)`, `wait_after(2)`, ... up to the first that reaches the cap. The statement
    /// that counts reads it by the new count, and keeps to the last element beyond it, so the
    /// policy is computed here and only looked up in SQL.
    pub fn schedule(&self) -> Vec<i32> {
        let mut waits = Vec::new();
        for attempts in 1.. {
            let wait = self.wait_after(attempts);
            waits.push(wait);
            if wait >= self.max_wait_secs || attempts >= self.free + 32 {
                break;
            }
        }
        waits
    }
}

/// What is being limited, and for whom.
#[derive(Debug, Clone, Copy)]
pub enum Throttle<'a> {
    LoginsFromAddress { address: &'a str },
    LoginsToNumberFromAddress { phone: &'a str, address: &'a str },
    LoginsToNumber { phone: &'a str },
    PasswordConfirmations { session: Uuid },
    RegistrationsFromAddress { address: &'a str, per_hour: u32 },
    GroupCreations { user: Uuid },
    PushSubscriptionChanges { device: Uuid },
}

enum Policy {
    Window(Window),
    Backoff(Backoff),
}

impl Throttle<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Throttle::LoginsFromAddress { .. } => "login-address",
            Throttle::LoginsToNumberFromAddress { .. } => "login-number-address",
            Throttle::LoginsToNumber { .. } => "login-number",
            Throttle::PasswordConfirmations { .. } => "password-confirm",
            Throttle::RegistrationsFromAddress { .. } => "registration",
            Throttle::GroupCreations { .. } => "group-creation",
            Throttle::PushSubscriptionChanges { .. } => "push-subscription",
        }
    }

    /// The row's key. A phone number is E.164 (no spaces), so the space cannot be ambiguous.
    fn key(&self) -> String {
        match self {
            Throttle::LoginsFromAddress { address } | Throttle::RegistrationsFromAddress { address, .. } => {
                client_network(address)
            }
            Throttle::LoginsToNumberFromAddress { phone, address } => format!("{phone} {}", client_network(address)),
            Throttle::LoginsToNumber { phone } => phone.to_string(),
            // Per session (the one the request's token names), not per account.
            Throttle::PasswordConfirmations { session } => session.to_string(),
            Throttle::GroupCreations { user } => user.to_string(),
            Throttle::PushSubscriptionChanges { device } => device.to_string(),
        }
    }

    fn policy(&self) -> Policy {
        match self {
            Throttle::LoginsFromAddress { .. } => Policy::Window(LOGINS_FROM_ADDRESS),
            Throttle::LoginsToNumberFromAddress { .. } => Policy::Backoff(LOGINS_TO_NUMBER_FROM_ADDRESS),
            Throttle::LoginsToNumber { .. } => Policy::Backoff(LOGINS_TO_NUMBER),
            Throttle::PasswordConfirmations { .. } => Policy::Backoff(PASSWORD_CONFIRMATIONS),
            Throttle::RegistrationsFromAddress { per_hour, .. } => Policy::Window(Window {
                limit: i32::try_from(*per_hour).unwrap_or(i32::MAX),
                seconds: REGISTRATION_WINDOW_SECS,
            }),
            Throttle::GroupCreations { .. } => Policy::Window(GROUP_CREATIONS),
            Throttle::PushSubscriptionChanges { .. } => Policy::Window(PUSH_SUBSCRIPTION_CHANGES),
        }
    }
}

/// Whether an attempt was let through.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// Counted; kept to give it back.
    Admitted(Counted<'a>),
    /// Not counted; the next attempt may be let through this many seconds from now.
    Refused { retry_after_secs: i32 },
}

/// An attempt [`claim`] counted, as [`give_back`] needs to know it.
#[derive(Debug, Clone, Copy)]
pub struct Counted<'a> {
    throttle: Throttle<'a>,
    /// For a backoff, `blocked_until` as this attempt set it. An attempt counted after it that
    /// started a wait set a later one: it was let through only once this one's wait was over.
    blocked_until: Option<Timestamp<DateTime<Utc>>>,
}

/// Deletes a few expired rows other than the one being counted (that one is restarted in
/// place). Rows another statement holds are skipped, not waited for.
const PURGE: &str = "purged AS (
       DELETE FROM throttles WHERE (kind, key) IN (
         SELECT kind, key FROM throttles
         WHERE expires_at <= now() AND NOT (kind = $1 AND key = $2)
         ORDER BY expires_at LIMIT $5
         FOR UPDATE SKIP LOCKED))";

/// `blocked_until` after the `count`-th attempt, made at `at` (SQL expressions): `$3[count]`
/// seconds from then, the last element of the schedule `$3` beyond its end. No wait (a count of
/// 0, or a free attempt) is '-infinity', not `at`: an attempt whose statement started a moment
/// earlier (its now() is older) and waited for this row must not read "blocked until now" as a
/// wait.
fn blocked_after(count: &str, at: &str) -> String {
    format!(
        "coalesce({at} + nullif(($3::int4[])[least({count}, cardinality($3::int4[]))], 0) * interval '1 second', \
         '-infinity')"
    )
}

/// Counts one attempt if the policy lets it through. The outer SELECT reads the row as it was
/// before this statement (the statement's snapshot), which is the row that refused it, so a
/// refusal knows its wait without a second round trip.
pub async fn claim<'a>(client: &Client, throttle: Throttle<'a>) -> DbResult<Claim<'a>> {
    let (kind, key) = (throttle.kind(), throttle.key());
    let row = match throttle.policy() {
        // A window: restarted once it has ended; otherwise counted while under the limit.
        Policy::Window(window) => {
            let sql = format!(
                "WITH {PURGE}, counted AS (
                   INSERT INTO throttles AS t (kind, key, attempts, expires_at)
                   VALUES ($1, $2, 1, now() + $4::int4 * interval '1 second')
                   ON CONFLICT (kind, key) DO UPDATE SET
                     attempts = CASE WHEN t.expires_at <= now() THEN 1 ELSE t.attempts + 1 END,
                     expires_at = CASE WHEN t.expires_at <= now() THEN excluded.expires_at ELSE t.expires_at END
                   WHERE t.expires_at <= now() OR t.attempts < $3::int4
                   RETURNING t.blocked_until)
                 SELECT EXISTS (SELECT 1 FROM counted),
                        (SELECT ceil(extract(epoch FROM expires_at - now()))::int4
                         FROM throttles WHERE kind = $1 AND key = $2),
                        (SELECT blocked_until FROM counted)"
            );
            sql::query_one(client, &sql, &[&kind, &key, &window.limit, &window.seconds, &PURGE_BATCH]).await?
        }
        // A backoff: let through once its wait is over (or it was forgotten), and then blocked
        // for the wait the new count earns.
        Policy::Backoff(backoff) => {
            let new_count = "CASE WHEN t.expires_at <= now() THEN 1 ELSE t.attempts + 1 END";
            let sql = format!(
                "WITH {PURGE}, counted AS (
                   INSERT INTO throttles AS t (kind, key, attempts, blocked_until, expires_at)
                   VALUES ($1, $2, 1, {first_block}, now() + $4::int4 * interval '1 second')
                   ON CONFLICT (kind, key) DO UPDATE SET
                     attempts = {new_count},
                     blocked_until = {next_block},
                     expires_at = excluded.expires_at
                   WHERE t.expires_at <= now() OR t.blocked_until <= now()
                   RETURNING t.blocked_until)
                 SELECT EXISTS (SELECT 1 FROM counted),
                        (SELECT ceil(extract(epoch FROM greatest(blocked_until, now()) - now()))::int4
                         FROM throttles WHERE kind = $1 AND key = $2),
                        (SELECT blocked_until FROM counted)",
                first_block = blocked_after("1", "now()"),
                next_block = blocked_after(new_count, "now()"),
            );
            let schedule = backoff.schedule();
            sql::query_one(client, &sql, &[&kind, &key, &schedule, &backoff.forget_after_secs, &PURGE_BATCH]).await?
        }
    };
    if row.get::<_, bool>(0) {
        return Ok(Claim::Admitted(Counted { throttle, blocked_until: row.get(2) }));
    }
    // The row can have moved on since the snapshot (a concurrent attempt restarted it): a wait
    // read as over still means "refused just now", so ask for at least a second.
    let retry_after_secs = row.get::<_, Option<i32>>(1).unwrap_or(1).max(1);
    Ok(Claim::Refused { retry_after_secs })
}

/// Gives back one attempt that was let through but did not use it (a later check refused it
/// before the hash, or it succeeded). A window's count goes down by one; its end stays.
///
/// A backoff's wait is recomputed for the count that remains, never lifting a wait that count
/// still imposes. If no attempt that started a wait was counted after this one, the row was open
/// when this one was let through, and is again. Otherwise the latest attempt's wait stays, as long
/// as the count that remains earns from that attempt's time (read from `expires_at`, which each
/// counted attempt sets to its time plus `forget_after_secs`).
pub async fn give_back(client: &Client, counted: Counted<'_>) -> DbResult<()> {
    let throttle = counted.throttle;
    let (kind, key) = (throttle.kind(), throttle.key());
    match throttle.policy() {
        Policy::Window(_) => {
            sql::execute(
                client,
                "UPDATE throttles SET attempts = attempts - 1 WHERE kind = $1 AND key = $2 AND attempts > 0",
                &[&kind, &key],
            )
            .await?;
        }
        Policy::Backoff(backoff) => {
            let sql = format!(
                "UPDATE throttles SET
                   attempts = attempts - 1,
                   blocked_until = CASE WHEN blocked_until <= $5 THEN '-infinity'
                                        ELSE least(blocked_until, {remaining}) END
                 WHERE kind = $1 AND key = $2 AND attempts > 0",
                remaining = blocked_after("attempts - 1", "(expires_at - $4::int4 * interval '1 second')"),
            );
            let schedule = backoff.schedule();
            sql::execute(client, &sql, &[&kind, &key, &schedule, &backoff.forget_after_secs, &counted.blocked_until])
                .await?;
        }
    }
    Ok(())
}

/// Forgets the counter: the password was proven.
pub async fn reset(client: &Client, throttle: Throttle<'_>) -> DbResult<()> {
    sql::execute(client, "DELETE FROM throttles WHERE kind = $1 AND key = $2", &[&throttle.kind(), &throttle.key()])
        .await?;
    Ok(())
}

/// A wait, as a person reads it: "15 seconds", "1 minute", "60 minutes" (rounded up).
pub fn describe_wait(seconds: i32) -> String {
    let plural = |n: i32, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if seconds < MINUTE {
        plural(seconds.max(1), "second")
    } else {
        plural((seconds + MINUTE - 1) / MINUTE, "minute")
    }
}

/// What one client controls, as a throttle counts it: an IPv4 address as it is, an IPv6 address by
/// its /64 (one subscriber is usually given at least a /64, and could otherwise take a fresh
/// address, and a fresh allowance, for every attempt), in one spelling. Anything else is kept as
/// it came.
pub fn client_network(address: &str) -> String {
    match address.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        Err(_) => address.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_an_ipv4_one_by_its_address() {
        use super::client_network;
        assert_eq!(client_network("2001:db8:0:1::a17"), "2001:db8:0:1::/64");
        assert_eq!(client_network("2001:DB8:0:1:ffff:1:2:3"), "2001:db8:0:1::/64", "one spelling");
        assert_ne!(client_network("2001:db8:0:2::1"), client_network("2001:db8:0:1::1"), "another /64");
        assert_eq!(client_network("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_network("::ffff:203.0.113.7"), "203.0.113.7", "IPv4-mapped");
        assert_eq!(client_network(" not an address "), "not an address");
    }

    use super::*;

    #[test]
    fn a_backoff_lets_the_free_attempts_through_then_doubles_its_wait_up_to_the_cap() {
        let waits: Vec<i32> = (1..=17).map(|n| LOGINS_TO_NUMBER.wait_after(n)).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 30, 60, 120, 240, 300, 300, 300]);
        let waits: Vec<i32> = (9..=18).map(|n| LOGINS_TO_NUMBER_FROM_ADDRESS.wait_after(n)).collect();
        assert_eq!(waits, [0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    }

    #[test]
    fn a_backoff_never_overflows_however_many_attempts() {
        for backoff in [LOGINS_TO_NUMBER, LOGINS_TO_NUMBER_FROM_ADDRESS, PASSWORD_CONFIRMATIONS] {
            assert_eq!(backoff.wait_after(i32::MAX), backoff.max_wait_secs);
            assert_eq!(backoff.wait_after(backoff.free + 40), backoff.max_wait_secs);
            assert_eq!(backoff.wait_after(i32::MIN), 0);
        }
    }

    #[test]
    fn the_schedule_sql_reads_ends_at_the_cap_it_keeps_to() {
        let schedule = LOGINS_TO_NUMBER.schedule();
        assert_eq!(schedule.len(), 15);
        assert_eq!(schedule[9], 15, "the 10th attempt starts the first wait");
        assert_eq!(*schedule.last().unwrap(), 300);
        for backoff in [LOGINS_TO_NUMBER, LOGINS_TO_NUMBER_FROM_ADDRESS, PASSWORD_CONFIRMATIONS] {
            let schedule = backoff.schedule();
            for (index, wait) in schedule.iter().enumerate() {
                assert_eq!(*wait, backoff.wait_after(index as i32 + 1));
            }
            assert_eq!(*schedule.last().unwrap(), backoff.max_wait_secs);
        }
        // A cap no doubling reaches exactly still ends the schedule, at the cap.
        let odd = Backoff { free: 2, first_wait_secs: 7, max_wait_secs: 100, forget_after_secs: DAY };
        assert_eq!(odd.schedule(), [0, 7, 14, 28, 56, 100]);
    }

    #[test]
    fn a_backoff_outlives_its_longest_wait() {
        // Forgetting a count before its wait is over would lift the wait early.
        for backoff in [LOGINS_TO_NUMBER, LOGINS_TO_NUMBER_FROM_ADDRESS, PASSWORD_CONFIRMATIONS] {
            assert!(backoff.forget_after_secs > backoff.max_wait_secs);
            assert!(backoff.free >= 1 && backoff.first_wait_secs >= 1);
        }
    }

    #[test]
    fn after_a_stranger_from_one_address_the_owner_waits_a_quarter_of_the_strangers_wait_at_most() {
        // Alone, a stranger's count from their address and the number's count go up together.
        for attempts in LOGINS_TO_NUMBER_FROM_ADDRESS.free..200 {
            let owner_waits = LOGINS_TO_NUMBER.wait_after(attempts);
            assert!(owner_waits * 4 <= LOGINS_TO_NUMBER_FROM_ADDRESS.wait_after(attempts), "{attempts}");
            assert!(owner_waits <= 5 * MINUTE);
        }
    }

    #[test]
    fn keys_name_the_kind_and_whom_it_limits() {
        let pair = Throttle::LoginsToNumberFromAddress { phone: "+14155550100", address: "2001:db8::1" };
        assert_eq!((pair.kind(), pair.key().as_str()), ("login-number-address", "+14155550100 2001:db8::/64"));
        let registrations = Throttle::RegistrationsFromAddress { address: "203.0.113.9", per_hour: 3 };
        assert_eq!((registrations.kind(), registrations.key().as_str()), ("registration", "203.0.113.9"));
        assert!(matches!(registrations.policy(), Policy::Window(Window { limit: 3, seconds: 3600 })));
        let huge = Throttle::RegistrationsFromAddress { address: "x", per_hour: u32::MAX };
        assert!(matches!(huge.policy(), Policy::Window(Window { limit: i32::MAX, .. })));
        // The password entered again is counted per session: a stolen token's count is its own.
        let session = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let confirmations = Throttle::PasswordConfirmations { session };
        assert_eq!((confirmations.kind(), confirmations.key()), ("password-confirm", session.to_string()));
        assert!(matches!(confirmations.policy(), Policy::Backoff(PASSWORD_CONFIRMATIONS)));
        // A push subscription's changes are counted per device, POST and DELETE together.
        let device = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
        let changes = Throttle::PushSubscriptionChanges { device };
        assert_eq!((changes.kind(), changes.key()), ("push-subscription", device.to_string()));
        assert!(matches!(changes.policy(), Policy::Window(PUSH_SUBSCRIPTION_CHANGES)));
    }

    #[test]
    fn waits_read_in_seconds_then_whole_minutes_rounded_up() {
        assert_eq!(describe_wait(0), "1 second");
        assert_eq!(describe_wait(1), "1 second");
        assert_eq!(describe_wait(15), "15 seconds");
        assert_eq!(describe_wait(60), "1 minute");
        assert_eq!(describe_wait(61), "2 minutes");
        assert_eq!(describe_wait(300), "5 minutes");
        assert_eq!(describe_wait(3600), "60 minutes");
    }
}
