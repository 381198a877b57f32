#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod reference;
mod resolver;
mod secret;
mod store;

pub use reference::{SECRETS_MANAGER_PREFIX, SSM_PREFIX, SecretRef};
pub use resolver::{DEFAULT_TTL, SecretResolver, TTL_VAR};
pub use secret::{RETRY_AFTER, Secret, SecretError, Values};
pub use store::{MemorySecretStore, SecretStore, StoreError, Versions};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;
    use switchyard_config::Settings;

    fn resolver(store: &MemorySecretStore, ttl_ms: u64) -> SecretResolver {
        SecretResolver::new(Arc::new(store.clone()), Duration::from_millis(ttl_ms))
    }

    #[tokio::test]
    async fn plain_values_work_without_a_store_and_references_need_one() {
        let settings = Settings::from_pairs([("K", "a,b"), ("R", "ssm:/x")]);
        let plain = SecretResolver::default();
        let k = plain.resolve(&settings, "K").await.unwrap().unwrap();
        assert_eq!(&*k.current().await.unwrap(), "a,b");
        assert!(plain.secret(&settings, "UNSET").unwrap().is_none());
        let err = plain.secret(&settings, "R").unwrap_err().to_string();
        assert!(err.contains('R') && err.contains("ssm:/x"), "{err}");
        assert!(!format!("{k:?}").contains("a,b"));
    }

    #[tokio::test]
    async fn values_are_cached_for_the_ttl_and_a_rotation_is_picked_up_after_it() {
        let store = MemorySecretStore::new();
        store.set("hook", Versions::current("old"));
        let settings = Settings::from_pairs([("K", "secretsmanager:hook")]);
        let secret = resolver(&store, 100)
            .secret(&settings, "K")
            .unwrap()
            .unwrap();
        assert_eq!(&*secret.current().await.unwrap(), "old");
        store.rotate("hook", "new");
        assert_eq!(&*secret.current().await.unwrap(), "old");
        assert_eq!(store.reads(), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let values = secret.values().await.unwrap();
        assert_eq!(values.accepted().collect::<Vec<_>>(), ["new", "old"]);
        assert_eq!(store.reads(), 2);
        secret.invalidate();
        secret.values().await.unwrap();
        assert_eq!(store.reads(), 3);
    }

    #[tokio::test]
    async fn json_keys_are_picked_and_errors_name_the_variable_and_reference() {
        let store = MemorySecretStore::new();
        store.set(
            "erp",
            Versions {
                current: r#"{"client_secret":"s2"}"#.into(),
                previous: Some(r#"{"other":"x"}"#.into()),
            },
        );
        let settings = Settings::from_pairs([
            ("S", "secretsmanager:erp#client_secret"),
            ("NOKEY", "secretsmanager:erp#nope"),
            ("GONE", "ssm:/missing"),
        ]);
        let r = resolver(&store, 1000);
        let s = r.resolve(&settings, "S").await.unwrap().unwrap();
        let values = s.values().await.unwrap();
        assert_eq!(values.current(), "s2");
        assert_eq!(values.previous(), None);
        for var in ["NOKEY", "GONE"] {
            let err = r.resolve(&settings, var).await.unwrap_err();
            assert!(
                matches!(err, switchyard_config::ConfigError::Invalid { .. }),
                "{err}"
            );
            let text = err.to_string();
            assert!(text.contains(var) && text.contains(":/missing") == (var == "GONE"));
            assert!(!text.contains("s2"), "{text}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_store_is_transient_and_the_last_value_is_served() {
        let store = MemorySecretStore::new();
        let settings = Settings::from_pairs([("K", "secretsmanager:hook")]);
        let r = resolver(&store, 20);
        store.fail("hook", StoreError::Unavailable("connect refused".into()));
        let err = r.resolve(&settings, "K").await.unwrap_err();
        assert!(
            matches!(err, switchyard_config::ConfigError::Unavailable { .. }),
            "{err}"
        );
        store.set("hook", Versions::current("v1"));
        let secret = r.resolve(&settings, "K").await.unwrap().unwrap();
        store.fail("hook", StoreError::Unavailable("timeout".into()));
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(&*secret.current().await.unwrap(), "v1");
        store.fail("hook", StoreError::Denied("kms".into()));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let err = secret.current().await.unwrap_err();
        assert!(!err.is_transient() && err.to_string().contains("secretsmanager:hook"));
    }

    #[test]
    fn the_ttl_setting_is_read_and_named_when_malformed() {
        let store: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
        let s = Settings::from_pairs([(TTL_VAR, "2")]);
        let r = SecretResolver::from_settings(&s, store.clone()).unwrap();
        assert_eq!(r.ttl(), Duration::from_secs(2));
        let s = Settings::from_pairs([(TTL_VAR, "soon")]);
        let err = SecretResolver::from_settings(&s, store).unwrap_err();
        assert!(err.to_string().contains(TTL_VAR));
    }
}
