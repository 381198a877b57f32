//! Event sets: what a handler consumes, declared in its type.
//!
//! A handler consumes one event type (`Envelope<OrderPlacedV2>`: every
//! [`Event`] is a set of one) or a set of several that the application owns,
//! declared with [`event_set!`](crate::event_set) — no edit to this crate.
//! Decoding and upcasting are per type, dispatched by the set; a type outside
//! the set is [`DecodeError::NotSubscribed`], which the function's policy
//! (acknowledge as ignored, or park) handles — never business code.

use serde::Serialize;
use serde_json::Value;

use crate::decode::{DecodeError, DecodeOptions, payload, validated};
use crate::events::Event;

/// The events one handler consumes, at the versions it reads them.
pub trait EventSet: Serialize + Send + Sync + Sized + 'static {
    /// The CloudEvents `type`s in the set.
    const TYPES: &'static [&'static str];

    /// Decodes (and upcasts) the `data` of one event of `event_type` written
    /// at `version`.
    ///
    /// # Errors
    /// [`DecodeError::NotSubscribed`] when the type is not in the set; the
    /// member type's decode and upcast errors otherwise.
    fn decode_data(
        event_type: &str,
        version: u32,
        data: Value,
        options: &DecodeOptions,
    ) -> Result<Self, DecodeError>;

    /// Like [`decode_data`](Self::decode_data), from the raw JSON text of
    /// `data` (valid JSON). The default reads it into a `Value` first; event
    /// types read their latest version straight from the text, and decode
    /// again from a `Value` only for older versions and for the error path.
    ///
    /// # Errors
    /// As [`decode_data`](Self::decode_data).
    fn decode_data_json(
        event_type: &str,
        version: u32,
        data: &str,
        options: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        Self::decode_data(
            event_type,
            version,
            json_value(event_type, version, data)?,
            options,
        )
    }

    /// The version of `event_type` this set reads (its member's `VERSION`):
    /// the version of an event that names none (no `dataversion`, no
    /// Switchyard `dataschema`). `None` when the type is not in the set; the
    /// default, for hand-written sets, knows no version.
    fn version_read(event_type: &str) -> Option<u32> {
        let _ = event_type;
        None
    }

    /// The CloudEvents `type` of this value.
    fn type_name(&self) -> &'static str;

    /// The schema version of this value.
    fn data_version(&self) -> u32;

    /// The CloudEvents `subject` of this value (what it is about).
    fn data_subject(&self) -> Option<String>;

    /// True when `event_type` is in the set.
    fn contains(event_type: &str) -> bool {
        Self::TYPES.contains(&event_type)
    }
}

/// The `Value` of a payload's JSON text.
fn json_value(event_type: &str, version: u32, data: &str) -> Result<Value, DecodeError> {
    serde_json::from_str(data).map_err(|e| DecodeError::InvalidPayload {
        event_type: event_type.to_owned(),
        version,
        path: "data".to_owned(),
        message: e.to_string(),
    })
}

impl DecodeError {
    /// The error for an event whose type `S` does not consume.
    pub fn not_subscribed<S: EventSet>(event_type: &str) -> Self {
        DecodeError::NotSubscribed {
            event_type: event_type.to_owned(),
            consumes: S::TYPES.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

/// A single event type is a set of one: `Envelope<OrderPlacedV2>`.
impl<T: Event> EventSet for T {
    const TYPES: &'static [&'static str] = &[T::TYPE];

    fn decode_data(
        event_type: &str,
        version: u32,
        data: Value,
        options: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        if event_type != T::TYPE {
            return Err(DecodeError::not_subscribed::<T>(event_type));
        }
        if version == T::VERSION {
            return payload::<T>(data);
        }
        if T::UPCASTS_FROM.contains(&version) {
            return T::upcast_from(version, data, options);
        }
        let mut known = T::UPCASTS_FROM.to_vec();
        known.push(T::VERSION);
        Err(DecodeError::UnknownVersion {
            event_type: event_type.to_owned(),
            version,
            known,
        })
    }

    fn decode_data_json(
        event_type: &str,
        version: u32,
        data: &str,
        options: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        if event_type == T::TYPE && version == T::VERSION {
            // the success path: one typed pass, no paths tracked
            if let Ok(value) = serde_json::from_str::<T>(data) {
                return validated(value);
            }
        }
        Self::decode_data(
            event_type,
            version,
            json_value(event_type, version, data)?,
            options,
        )
    }

    fn version_read(event_type: &str) -> Option<u32> {
        (event_type == T::TYPE).then_some(T::VERSION)
    }

    fn type_name(&self) -> &'static str {
        T::TYPE
    }

    fn data_version(&self) -> u32 {
        T::VERSION
    }

    fn data_subject(&self) -> Option<String> {
        Event::subject(self)
    }
}

/// Declares an application-owned event set: an enum with one variant per
/// consumed event type (each variant holds the latest version the handler
/// reads; older versions are upcast by that type's
/// [`Event::upcast_from`]). It implements [`EventSet`], `Serialize` (as the
/// payload) and `From` for each member, plus `event_type()`, `version()` and
/// `subject()`.
///
/// ```
/// use switchyard_contracts::event_set;
/// use switchyard_contracts::events::{CustomerUpdatedV1, OrderPlacedV2};
///
/// event_set! {
///     /// What my function consumes.
///     #[derive(Debug, Clone, PartialEq)]
///     pub enum MyEvents {
///         /// `order.placed`
///         Order(OrderPlacedV2),
///         /// `customer.updated`
///         Customer(CustomerUpdatedV1),
///     }
/// }
/// use switchyard_contracts::EventSet;
/// assert_eq!(MyEvents::TYPES, &["order.placed", "customer.updated"]);
/// ```
#[macro_export]
macro_rules! event_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($ty:ty) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant($ty), )+
        }

        impl $crate::EventSet for $name {
            const TYPES: &'static [&'static str] = &[$(<$ty as $crate::Event>::TYPE),+];

            fn decode_data(
                event_type: &str,
                version: u32,
                data: $crate::__private::Value,
                options: &$crate::DecodeOptions,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                $(
                    if event_type == <$ty as $crate::Event>::TYPE {
                        return <$ty as $crate::EventSet>::decode_data(event_type, version, data, options)
                            .map($name::$variant);
                    }
                )+
                Err($crate::DecodeError::not_subscribed::<Self>(event_type))
            }

            fn decode_data_json(
                event_type: &str,
                version: u32,
                data: &str,
                options: &$crate::DecodeOptions,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                $(
                    if event_type == <$ty as $crate::Event>::TYPE {
                        return <$ty as $crate::EventSet>::decode_data_json(event_type, version, data, options)
                            .map($name::$variant);
                    }
                )+
                Err($crate::DecodeError::not_subscribed::<Self>(event_type))
            }

            fn version_read(event_type: &str) -> ::core::option::Option<u32> {
                $(
                    if event_type == <$ty as $crate::Event>::TYPE {
                        return ::core::option::Option::Some(<$ty as $crate::Event>::VERSION);
                    }
                )+
                ::core::option::Option::None
            }

            fn type_name(&self) -> &'static str {
                match self { $( $name::$variant(_) => <$ty as $crate::Event>::TYPE, )+ }
            }

            fn data_version(&self) -> u32 {
                match self { $( $name::$variant(_) => <$ty as $crate::Event>::VERSION, )+ }
            }

            fn data_subject(&self) -> ::core::option::Option<::std::string::String> {
                match self { $( $name::$variant(e) => $crate::Event::subject(e), )+ }
            }
        }

        impl $name {
            /// The CloudEvents `type`.
            #[allow(dead_code)]
            pub fn event_type(&self) -> &'static str {
                $crate::EventSet::type_name(self)
            }

            /// The schema version of the payload.
            #[allow(dead_code)]
            pub fn version(&self) -> u32 {
                $crate::EventSet::data_version(self)
            }

            /// The CloudEvents `subject` of the payload.
            #[allow(dead_code)]
            pub fn subject(&self) -> ::core::option::Option<::std::string::String> {
                $crate::EventSet::data_subject(self)
            }
        }

        impl $crate::__private::Serialize for $name {
            fn serialize<S: $crate::__private::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                match self { $( $name::$variant(e) => $crate::__private::Serialize::serialize(e, serializer), )+ }
            }
        }

        $(
            impl ::core::convert::From<$ty> for $name {
                fn from(e: $ty) -> Self {
                    $name::$variant(e)
                }
            }
        )+
    };
}
