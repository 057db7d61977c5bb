//! The change store's settings: SQLite at a path, or the DynamoDB table `GRAPHGATE_TABLE`
//! names. None of them comes from a secret.

use std::path::PathBuf;
use std::time::Duration;

use super::env::{ConfigError, Env, process_env, whole_number};
use crate::store::{DueShards, Durability, StoreSettings};

impl StoreSettings {
    /// Only the store's settings, from the process's environment: none of them comes from a
    /// secret.
    pub fn load() -> Result<Self, ConfigError> {
        store(&process_env)
    }
}

pub(super) fn store(env: Env<'_>) -> Result<StoreSettings, ConfigError> {
    let Some(table) = env("GRAPHGATE_TABLE") else {
        const SYNCHRONOUS: &str = "GRAPHGATE_SQLITE_SYNCHRONOUS";
        let durability = match env(SYNCHRONOUS) {
            None => Durability::default(),
            Some(raw) => Durability::parse(&raw).ok_or_else(|| {
                ConfigError::invalid(SYNCHRONOUS, format!("{raw:?} is not normal or full"))
            })?,
        };
        return Ok(StoreSettings::Sqlite {
            path: PathBuf::from(env("GRAPHGATE_DB").unwrap_or_else(|| "./graphgate.db".into())),
            durability,
        });
    };
    let valid_name = (3..=255).contains(&table.len())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !valid_name {
        return Err(ConfigError::invalid(
            "GRAPHGATE_TABLE",
            "a DynamoDB table name is 3 to 255 of a-z, A-Z, 0-9, _, - and .",
        ));
    }
    let retention_days =
        whole_number(env, "GRAPHGATE_RETENTION_DAYS", 1..=3650, " of days")?.unwrap_or(90);
    let due_shards = whole_number(
        env,
        "GRAPHGATE_DUE_SHARDS",
        1..=u64::from(DueShards::MAX),
        "",
    )?
    .and_then(|n| DueShards::new(n as u8))
    .unwrap_or_default();
    Ok(StoreSettings::DynamoDb {
        table,
        retention: Duration::from_secs(retention_days * 86_400),
        due_shards,
    })
}

#[cfg(test)]
mod tests {
    use super::super::env::lookup;
    use super::*;

    #[test]
    fn the_store_is_dynamodb_when_a_table_is_named() {
        assert_eq!(
            store(&lookup(&[])).unwrap(),
            StoreSettings::Sqlite {
                path: "./graphgate.db".into(),
                durability: Durability::Normal,
            }
        );
        assert_eq!(
            store(&lookup(&[("GRAPHGATE_SQLITE_SYNCHRONOUS", "FULL")])).unwrap(),
            StoreSettings::Sqlite {
                path: "./graphgate.db".into(),
                durability: Durability::Full,
            }
        );
        assert!(store(&lookup(&[("GRAPHGATE_SQLITE_SYNCHRONOUS", "off")])).is_err());
        assert_eq!(
            store(&lookup(&[
                ("GRAPHGATE_TABLE", "graphgate-changes"),
                ("GRAPHGATE_RETENTION_DAYS", "30")
            ]))
            .unwrap(),
            StoreSettings::DynamoDb {
                table: "graphgate-changes".into(),
                retention: Duration::from_secs(30 * 86_400),
                due_shards: DueShards::default(),
            }
        );
        let sharded = store(&lookup(&[
            ("GRAPHGATE_TABLE", "t-1"),
            ("GRAPHGATE_DUE_SHARDS", "8"),
        ]))
        .unwrap();
        assert!(
            matches!(sharded, StoreSettings::DynamoDb { due_shards, .. } if due_shards == DueShards::new(8).unwrap())
        );
        for bad in ["0", "33", "two"] {
            let err = store(&lookup(&[
                ("GRAPHGATE_TABLE", "t-1"),
                ("GRAPHGATE_DUE_SHARDS", bad),
            ]))
            .unwrap_err();
            assert!(err.to_string().contains("GRAPHGATE_DUE_SHARDS"), "{err}");
        }
        assert!(store(&lookup(&[("GRAPHGATE_TABLE", "a b")])).is_err());
        assert!(
            store(&lookup(&[
                ("GRAPHGATE_TABLE", "t-1"),
                ("GRAPHGATE_RETENTION_DAYS", "0")
            ]))
            .is_err()
        );
    }
}
