//! How events travel from one hub to another (`hub::client::deliver`): serialized, one per line,
//! in calls of at most `MAX_DELIVERY_BYTES`. Pure, so it is unit-tested natively.

/// Events are joined with this: each is already serialized JSON, which never holds a raw newline,
/// so the receiving hub splits on it and passes each on as it is, without decoding it.
pub const EVENT_SEPARATOR: char = '\n';

/// The most one hub-to-hub call carries. workerd refuses RPC arguments over 32 MiB; a hub whose
/// calls to one recipient were slow (three attempts at a 5 s deadline) may by then have queued
/// tens of megabytes for it (a burst of 64 KiB messages), and one call over the limit would fail
/// on every attempt and lose all of them live. A quarter of the limit keeps well clear of it and
/// still carries about a hundred of the largest messages per call.
pub const MAX_DELIVERY_BYTES: usize = 8 * 1024 * 1024;

/// The bodies of the calls that carry `events`, in order: as many events per body as fit within
/// `max_bytes` (separators included). An event larger than that goes alone (none is: the largest
/// message is a small fraction of it).
pub fn delivery_bodies(events: &[String], max_bytes: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut body = String::new();
    for event in events {
        if !body.is_empty() && body.len() + EVENT_SEPARATOR.len_utf8() + event.len() > max_bytes {
            bodies.push(std::mem::take(&mut body));
        }
        if !body.is_empty() {
            body.push(EVENT_SEPARATOR);
        }
        body.push_str(event);
    }
    if !body.is_empty() {
        bodies.push(body);
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(sizes: &[usize]) -> Vec<String> {
        sizes.iter().enumerate().map(|(i, &n)| format!("{i:0>n$}")).collect()
    }

    /// What the receiving hubs see, call after call.
    fn received(bodies: &[String]) -> Vec<String> {
        bodies.iter().flat_map(|b| b.split(EVENT_SEPARATOR).map(str::to_string)).collect()
    }

    #[test]
    fn a_small_delivery_is_one_call() {
        let all = events(&[10, 20, 30]);
        let bodies = delivery_bodies(&all, 100);
        assert_eq!(bodies, vec![all.join("\n")]);
    }

    #[test]
    fn a_large_delivery_is_split_in_order_with_every_call_within_the_limit() {
        let all = events(&[40; 25]); // 1,024 bytes with separators
        let bodies = delivery_bodies(&all, 100);
        assert!(bodies.len() > 1);
        assert!(bodies.iter().all(|b| b.len() <= 100), "{bodies:?}");
        assert_eq!(received(&bodies), all);
        // Full calls: two events of 40 and a separator fit, a third does not.
        assert!(bodies.iter().take(bodies.len() - 1).all(|b| b.len() == 81));
    }

    #[test]
    fn an_event_that_fills_a_call_exactly_is_not_split_off() {
        let all = events(&[49, 50]);
        assert_eq!(delivery_bodies(&all, 100).len(), 1);
        assert_eq!(delivery_bodies(&all, 99).len(), 2);
    }

    #[test]
    fn an_event_over_the_limit_goes_alone_and_nothing_is_lost() {
        let all = events(&[10, 500, 10]);
        let bodies = delivery_bodies(&all, 100);
        assert_eq!(bodies.len(), 3);
        assert_eq!(received(&bodies), all);
    }

    #[test]
    fn nothing_to_deliver_is_no_call() {
        assert!(delivery_bodies(&[], 100).is_empty());
    }

    #[test]
    fn the_limit_is_within_what_workerd_takes_per_call() {
        const WORKERD_RPC_ARGUMENT_LIMIT: usize = 32 * 1024 * 1024;
        assert!(MAX_DELIVERY_BYTES <= WORKERD_RPC_ARGUMENT_LIMIT / 2);
    }
}
