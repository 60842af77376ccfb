//! How many sockets one client address and one account may hold at once on this node.
//!
//! The node-wide semaphore keeps the process under its open-files limit, but a single address
//! opening thousands of sockets would use it all up and lock everyone else out. Each socket takes
//! a place for its address and its account, and gives them back when it closes. A clinic or a
//! family behind one address still fits comfortably under the default.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open sockets counted per key.
struct Counts<K>(Mutex<HashMap<K, usize>>);

impl<K: Hash + Eq + Copy> Counts<K> {
    fn take(&self, key: K, max: usize) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return false;
        };
        let n = map.entry(key).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn give_back(&self, key: K) {
        if let Ok(mut map) = self.0.lock()
            && let Some(n) = map.get_mut(&key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&key);
            }
        }
    }
}

pub struct Quota {
    per_ip: usize,
    per_account: usize,
    ips: Counts<IpAddr>,
    accounts: Counts<i64>,
}

/// Which limit refused a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Address,
    Account,
}

impl Quota {
    /// Sockets per client address (`MUTUAL_WS_PER_IP`) and per account (`MUTUAL_WS_PER_ACCOUNT`).
    pub fn new(per_ip: usize, per_account: usize) -> Quota {
        Quota {
            per_ip: per_ip.max(1),
            per_account: per_account.max(1),
            ips: Counts(Mutex::new(HashMap::new())),
            accounts: Counts(Mutex::new(HashMap::new())),
        }
    }

    /// A place for one more socket from `ip` for `account`, held until the guard drops.
    pub fn take(self: &Arc<Self>, ip: IpAddr, account: i64) -> Result<Place, Refused> {
        if !self.ips.take(ip, self.per_ip) {
            return Err(Refused::Address);
        }
        if !self.accounts.take(account, self.per_account) {
            self.ips.give_back(ip);
            return Err(Refused::Account);
        }
        Ok(Place {
            quota: self.clone(),
            ip,
            account,
        })
    }
}

/// One socket's place; given back when the socket ends.
pub struct Place {
    quota: Arc<Quota>,
    ip: IpAddr,
    account: i64,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.quota.ips.give_back(self.ip);
        self.quota.accounts.give_back(self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_and_given_back() {
        let quota = Arc::new(Quota {
            per_ip: 2,
            per_account: 1,
            ips: Counts(Mutex::new(HashMap::new())),
            accounts: Counts(Mutex::new(HashMap::new())),
        });
        let ip = IpAddr::from([10, 0, 0, 1]);
        let first = quota.take(ip, 1);
        assert!(first.is_ok());
        assert_eq!(quota.take(ip, 1).err(), Some(Refused::Account));
        let second = quota.take(ip, 2);
        assert!(second.is_ok());
        assert_eq!(quota.take(ip, 3).err(), Some(Refused::Address));
        drop(first);
        assert!(quota.take(ip, 1).is_ok());
    }
}
