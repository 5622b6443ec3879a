#![no_main]
//! cosign's key PEM (encrypted JSON included), DSSE envelopes, in-toto statements and
//! simple-signing payloads never panic and stay bounded.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = whittle_sign::SigningKey::from_pem(text, Some(b""), "fuzz");
        let _ = whittle_sign::PublicKey::from_pem(text, "fuzz");
    }
    let _ = whittle_sign::Envelope::parse(data);
    let _ = whittle_sign::Statement::parse(data);
    let _ = whittle_sign::payload::parse_simple_signing(data);
});
