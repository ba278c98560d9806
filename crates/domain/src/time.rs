//! How the original renders a time: Python's `datetime.isoformat(sep)`,
//! with microseconds only when there are some. The API's JSON uses `T`
//! between date and time; the event log's values use a space, as
//! `str(datetime)` did.

use chrono::{NaiveDateTime, Timelike};

/// `t` as `YYYY-MM-DD{sep}HH:MM:SS[.ffffff]`.
pub fn isoformat(t: &NaiveDateTime, sep: char) -> String {
    let seconds = format!("{}{sep}{}", t.format("%Y-%m-%d"), t.format("%H:%M:%S"));
    match t.nanosecond() / 1000 {
        0 => seconds,
        micros => format!("{seconds}.{micros:06}"),
    }
}

#[cfg(test)]
mod tests {
    use super::isoformat;
    use chrono::NaiveDate;

    #[test]
    fn microseconds_only_when_there_are_some() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let whole = day.and_hms_opt(8, 30, 0).unwrap();
        assert_eq!(isoformat(&whole, 'T'), "2026-12-05T08:30:00");
        assert_eq!(isoformat(&whole, ' '), "2026-12-05 08:30:00");
        let micros = day.and_hms_micro_opt(8, 30, 0, 42).unwrap();
        assert_eq!(isoformat(&micros, 'T'), "2026-12-05T08:30:00.000042");
    }
}
