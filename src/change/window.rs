//! When a change may be sent to Graph: not before one time, not after another, and only
//! inside a daily window of local time in an IANA time zone.
//!
//! Time zones come from `jiff` with its tz database compiled in, so a window means the same
//! on every machine: Lambda's base image has no zoneinfo files to rely on.

use std::fmt;

use jiff::civil::Time;
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a part of a schedule (a time, a time of day, a window) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0:?} is not a time of day as HH:MM (00:00 to 23:59)")]
    TimeOfDay(String),
    #[error("start and end must differ")]
    Empty,
    #[error("{0:?} is not an IANA time zone, such as Europe/Lisbon")]
    Zone(String),
    #[error("{0:?} is not an RFC 3339 time such as 2026-11-28T22:00:00Z")]
    Time(String),
}

/// A time of day, to the minute: `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub fn parse(raw: &str) -> Result<Self, ScheduleError> {
        let bad = || ScheduleError::TimeOfDay(raw.to_owned());
        let (h, m) = raw.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }

    fn civil(self) -> Time {
        Time::constant((self.0 / 60) as i8, (self.0 % 60) as i8, 0, 0)
    }

    fn of(time: Time) -> Self {
        Self(time.hour() as u16 * 60 + time.minute() as u16)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A window of local time that opens every day: from `start` up to `end`, across midnight
/// when `end` comes before `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawWindow")]
pub struct DailyWindow {
    start: TimeOfDay,
    end: TimeOfDay,
    /// An IANA name, checked against the tz database when the window was made.
    time_zone: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWindow {
    start: TimeOfDay,
    end: TimeOfDay,
    time_zone: String,
}

impl TryFrom<RawWindow> for DailyWindow {
    type Error = ScheduleError;

    fn try_from(raw: RawWindow) -> Result<Self, ScheduleError> {
        DailyWindow::new(raw.start, raw.end, &raw.time_zone)
    }
}

impl DailyWindow {
    pub fn new(start: TimeOfDay, end: TimeOfDay, time_zone: &str) -> Result<Self, ScheduleError> {
        if start == end {
            return Err(ScheduleError::Empty);
        }
        check_zone(time_zone)?;
        Ok(Self {
            start,
            end,
            time_zone: time_zone.to_owned(),
        })
    }

    fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).expect("the zone was checked when the window was made")
    }

    /// Whether the window is open at `at`.
    pub fn is_open(&self, at: OffsetDateTime) -> bool {
        let now = TimeOfDay::of(local(at, &self.zone()).time());
        if self.start < self.end {
            self.start <= now && now < self.end
        } else {
            now >= self.start || now < self.end
        }
    }

    /// The first time at or after `at` that the window is open.
    pub fn next_open(&self, at: OffsetDateTime) -> OffsetDateTime {
        if self.is_open(at) {
            return at;
        }
        let zone = self.zone();
        let mut day = local(at, &zone).date();
        // Today's start, unless it has passed; then tomorrow's. A start that falls in a
        // daylight-saving gap is taken as the first instant after it.
        for _ in 0..3 {
            if let Some(opens) = instant(day.to_datetime(self.start.civil()), &zone)
                && opens > at
            {
                return opens;
            }
            day = day.tomorrow().unwrap_or(day);
        }
        at
    }
}

impl fmt::Display for DailyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} {}", self.start, self.end, self.time_zone)
    }
}

/// Whether `name` is a time zone in the tz database.
pub fn check_zone(name: &str) -> Result<(), ScheduleError> {
    TimeZone::get(name)
        .map(drop)
        .map_err(|_| ScheduleError::Zone(name.to_owned()))
}

fn local(at: OffsetDateTime, zone: &TimeZone) -> jiff::ZonedDateTime {
    let ts = jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.to_zoned_datetime(zone.clone())
}

/// The instant a local time names; one that falls in a daylight-saving gap names the instant
/// the gap ends.
fn instant(datetime: jiff::civil::DateTime, zone: &TimeZone) -> Option<OffsetDateTime> {
    let ambiguous = zone.to_ambiguous_timestamp(datetime);
    let at = match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => {
            let before_gap = ambiguous.earlier().ok()?;
            zone.following(before_gap).next()?.timestamp()
        }
        _ => ambiguous.compatible().ok()?,
    };
    OffsetDateTime::from_unix_timestamp_nanos(at.as_nanosecond()).ok()
}

/// When a change may go to Graph. Empty, it may go at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub not_before: Option<OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub not_after: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<DailyWindow>,
}

/// When a scheduled change may next go to Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    Now,
    At(OffsetDateTime),
    /// Not before `notAfter`: it never will.
    Never,
}

impl Schedule {
    pub fn is_empty(&self) -> bool {
        self.not_before.is_none() && self.not_after.is_none() && self.window.is_none()
    }

    /// When, seen from `now`, the change may go to Graph.
    pub fn opening(&self, now: OffsetDateTime) -> Opening {
        let mut at = self.not_before.map_or(now, |nb| nb.max(now));
        if let Some(window) = &self.window {
            at = window.next_open(at);
        }
        match self.not_after {
            Some(last) if at >= last => Opening::Never,
            _ if at <= now => Opening::Now,
            _ => Opening::At(at),
        }
    }

    /// Whether the window is open at `at` (ignoring `notBefore` and `notAfter`).
    pub fn in_window(&self, at: OffsetDateTime) -> bool {
        self.window.as_ref().is_none_or(|w| w.is_open(at))
    }
}

/// An RFC 3339 time, with its offset.
pub fn rfc3339(raw: &str) -> Result<OffsetDateTime, ScheduleError> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| ScheduleError::Time(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> OffsetDateTime {
        rfc3339(raw).unwrap()
    }

    fn window(start: &str, end: &str, zone: &str) -> DailyWindow {
        DailyWindow::new(
            TimeOfDay::parse(start).unwrap(),
            TimeOfDay::parse(end).unwrap(),
            zone,
        )
        .unwrap()
    }

    #[test]
    fn times_of_day_are_hh_mm() {
        assert_eq!(TimeOfDay::parse("22:05").unwrap().to_string(), "22:05");
        for bad in ["24:00", "7:00", "07:60", "0700", "07:00:00", ""] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_across_midnight_opens_in_its_own_time_zone() {
        // 22:00 to 05:00 in Lisbon (UTC+0 in November, UTC+1 in summer).
        let w = window("22:00", "05:00", "Europe/Lisbon");
        assert!(!w.is_open(at("2026-11-24T21:59:00Z")));
        assert!(w.is_open(at("2026-11-24T22:00:00Z")));
        assert!(w.is_open(at("2026-11-25T04:59:00Z")));
        assert!(!w.is_open(at("2026-11-25T05:00:00Z")));
        assert_eq!(
            w.next_open(at("2026-11-25T12:00:00Z")),
            at("2026-11-25T22:00:00Z")
        );
        assert_eq!(
            w.next_open(at("2026-07-01T12:00:00Z")),
            at("2026-07-01T21:00:00Z"),
            "summer time"
        );
        let tokyo = window("01:00", "03:00", "Asia/Tokyo");
        assert_eq!(
            tokyo.next_open(at("2026-11-24T18:30:00Z")),
            at("2026-11-25T16:00:00Z"),
            "03:30 in Tokyo: the window has closed until tomorrow's 01:00"
        );
    }

    #[test]
    fn a_start_in_a_daylight_saving_gap_opens_after_the_gap() {
        // New York skips 02:00-03:00 on 2026-03-08.
        let w = window("02:30", "04:00", "America/New_York");
        let opens = w.next_open(at("2026-03-08T05:00:00Z"));
        assert_eq!(
            opens,
            at("2026-03-08T07:00:00Z"),
            "03:00 EDT, when the gap ends"
        );
        assert!(w.is_open(opens));
    }

    #[test]
    fn schedules_open_now_later_or_never() {
        let now = at("2026-11-24T12:00:00Z");
        assert_eq!(Schedule::default().opening(now), Opening::Now);
        let later = Schedule {
            not_before: Some(at("2026-11-24T13:00:00Z")),
            ..Schedule::default()
        };
        assert_eq!(later.opening(now), Opening::At(at("2026-11-24T13:00:00Z")));
        let nightly = Schedule {
            not_after: Some(at("2026-11-24T23:00:00Z")),
            window: Some(window("22:00", "05:00", "UTC")),
            ..Schedule::default()
        };
        assert_eq!(
            nightly.opening(now),
            Opening::At(at("2026-11-24T22:00:00Z"))
        );
        assert_eq!(nightly.opening(at("2026-11-24T22:30:00Z")), Opening::Now);
        assert_eq!(nightly.opening(at("2026-11-24T23:00:00Z")), Opening::Never);
        let too_late = Schedule {
            not_after: Some(at("2026-11-24T21:00:00Z")),
            ..nightly
        };
        assert_eq!(too_late.opening(now), Opening::Never);
    }

    #[test]
    fn a_window_is_checked_when_it_is_read() {
        let read = |json: &str| serde_json::from_str::<DailyWindow>(json);
        assert!(read(r#"{"start":"22:00","end":"05:00","timeZone":"Europe/Berlin"}"#).is_ok());
        assert!(read(r#"{"start":"22:00","end":"22:00","timeZone":"UTC"}"#).is_err());
        assert!(read(r#"{"start":"22:00","end":"05:00","timeZone":"Mars/Olympus"}"#).is_err());
    }
}
