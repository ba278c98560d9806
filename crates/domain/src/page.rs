//! Pagination, once for every list: 24 items a page, numbered from 1.

/// A page number of a list (1 is the first page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page(pub i64);

impl Page {
    /// Items on every page of every list.
    pub const SIZE: i64 = 24;

    /// Rows skipped before this page.
    pub fn offset(self) -> i64 {
        (self.0 - 1) * Self::SIZE
    }

    /// Pages needed for `total` rows.
    pub fn count(total: i64) -> i64 {
        (total + Self::SIZE - 1) / Self::SIZE
    }
}

/// One page of rows and how many rows the whole list has.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_page_counts() {
        assert_eq!(Page(1).offset(), 0);
        assert_eq!(Page(3).offset(), 48);
        assert_eq!(Page::count(0), 0);
        assert_eq!(Page::count(24), 1);
        assert_eq!(Page::count(25), 2);
    }
}
