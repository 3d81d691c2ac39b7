//! Serde helpers shared by the sections. Secrets are exposed only to
//! feed settings built in code (the sandbox) back through figment.

use secrecy::SecretString;
use serde::Deserialize;

pub(super) fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match ListOrCsv::deserialize(d)? {
        ListOrCsv::List(list) => list,
        ListOrCsv::Csv(csv) => csv
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

pub(super) fn expose_opt_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match secret {
        Some(secret) => s.serialize_some(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

// Only used to feed settings built in code (the sandbox) back through figment;
// `Settings` is never serialized anywhere a person can read it.
pub(super) fn expose_secret<S: serde::Serializer>(
    secret: &SecretString,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

pub(super) fn expose_secret_map<S: serde::Serializer>(
    map: &std::collections::BTreeMap<String, SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    use serde::ser::SerializeMap;
    let mut out = s.serialize_map(Some(map.len()))?;
    for (k, v) in map {
        out.serialize_entry(k, v.expose_secret())?;
    }
    out.end()
}

/// An address, or `""` / `"off"` for none (a listener turned off).
pub(super) mod addr_or_off {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        addr: &Option<SocketAddr>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match addr {
            Some(addr) => s.collect_str(addr),
            None => s.serialize_str(""),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        match text.trim() {
            "" | "off" => Ok(None),
            addr => addr.parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{addr}` is not an address with a port, like 127.0.0.1:9464; \"\" turns it off"
                ))
            }),
        }
    }
}
