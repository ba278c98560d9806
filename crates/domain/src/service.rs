//! The outside services a user can link (their library is imported into
//! the catalogue and the user's interactions).

/// One linked service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Spotify,
    Tmdb,
    GBooks,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Spotify, Service::Tmdb, Service::GBooks];

    /// `service_name` in the database and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Service::Spotify => "Spotify",
            Service::Tmdb => "TMDB",
            Service::GBooks => "GBooks",
        }
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for service in Service::ALL {
            assert_eq!(Service::from_name(service.name()), Some(service));
        }
        assert_eq!(Service::from_name("spotify"), None);
    }
}
