/*!
Which bytes of a file several writers fill are final, for a reader that follows them in order: the NAR
sink hashes its file while the downloads still write into it. A region is final once its writer is done
with it (a range fetched, a file verified); a writer that must write a final region again (a file that
failed verification after all its ranges were in) spoils the whole reading, and the reader then gives
up rather than hash bytes that changed under it.
*/

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};

#[derive(Debug, Default)]
pub struct Regions {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Final regions not yet joined to the prefix, by start: start to end (exclusive).
    pending: BTreeMap<u64, u64>,
    /// Bytes `0..prefix` are final.
    prefix: u64,
    spoiled: bool,
    closed: bool,
}

/// What a reader waiting for bytes beyond what it has read is told.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// Bytes up to here are final.
    Upto(u64),
    /// No more bytes will be final: the writers are done (or failed).
    Closed,
    /// A final region was written again.
    Spoiled,
}

impl Regions {
    /// Bytes `0..len` final, and no writer left.
    pub fn whole(len: u64) -> Regions {
        let regions = Regions::default();
        regions.done(0, len);
        regions.close();
        regions
    }

    /// Bytes `start..end` are final.
    pub fn done(&self, start: u64, end: u64) {
        if end <= start {
            return;
        }
        let mut guard = self.state.lock().unwrap();
        let s = &mut *guard;
        s.pending.insert(start, end);
        while let Some(end) = s.pending.remove(&s.prefix) {
            s.prefix = end;
        }
        drop(guard);
        self.changed.notify_all();
    }

    /// A final region is being written again.
    pub fn spoil(&self) {
        self.state.lock().unwrap().spoiled = true;
        self.changed.notify_all();
    }

    /// The writers are done.
    pub fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.changed.notify_all();
    }

    /// Waits until bytes beyond `read` are final, or nothing more will be.
    pub fn wait_beyond(&self, read: u64) -> Wait {
        let mut s = self.state.lock().unwrap();
        loop {
            if s.spoiled {
                return Wait::Spoiled;
            }
            if s.prefix > read {
                return Wait::Upto(s.prefix);
            }
            if s.closed {
                return Wait::Closed;
            }
            s = self.changed.wait(s).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_prefix_grows_as_regions_join_it_in_any_order() {
        let r = Regions::default();
        r.done(10, 20);
        r.done(30, 40);
        r.done(5, 5);
        assert_eq!(r.state.lock().unwrap().prefix, 0);
        r.done(0, 10);
        assert_eq!(r.wait_beyond(0), Wait::Upto(20));
        r.done(20, 30);
        assert_eq!(r.wait_beyond(20), Wait::Upto(40));
        r.close();
        assert_eq!(r.wait_beyond(40), Wait::Closed);
        r.spoil();
        assert_eq!(r.wait_beyond(0), Wait::Spoiled);
    }

    #[test]
    fn a_waiting_reader_wakes_when_its_bytes_are_final() {
        let r = Arc::new(Regions::default());
        let reader = {
            let r = r.clone();
            std::thread::spawn(move || r.wait_beyond(0))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        r.done(0, 8);
        assert_eq!(reader.join().unwrap(), Wait::Upto(8));
    }
}
