package apperr

// Code is the stable, machine-readable "code" of an error. The codes are part
// of the API: clients match on them, so a code is never renamed or reused for
// another meaning. Every code is declared in this file with the HTTP status it
// is returned with; docs/api.md lists them all (TestCodesDocumented keeps the
// two in step).
type Code string

// 400 Bad Request: the input is wrong (KindInvalid).
const (
	// CodeAccountKey (400): the CSR's key is an ACME account's key; a certificate key must never authenticate an account (RFC 8555 §11.1), so use a new key.
	CodeAccountKey Code = "account_key"
	// CodeAttributeCharacter (400): a certificate subject attribute holds a control character, invalid UTF-8 or a value that is not a string.
	CodeAttributeCharacter Code = "attribute_character"
	// CodeAttributeEmpty (400): a certificate subject attribute is empty or blank.
	CodeAttributeEmpty Code = "attribute_empty"
	// CodeAttributeMissing (400): an attribute an OV certificate subject must carry is absent (BR §7.1.2.7.4).
	CodeAttributeMissing Code = "attribute_missing"
	// CodeAttributeNotAllowed (400): a certificate subject attribute is not in the OV subject profile (e.g. organizationalUnitName).
	CodeAttributeNotAllowed Code = "attribute_not_allowed"
	// CodeAttributeNotVetted (400): the CSR or order asks for a subject attribute the verified organization version does not have.
	CodeAttributeNotVetted Code = "attribute_not_vetted"
	// CodeAttributeOrder (400): the certificate subject attributes are not in BR §7.1.4.2 order.
	CodeAttributeOrder Code = "attribute_order"
	// CodeAttributeRepeated (400): a certificate subject attribute appears more than once (BR §7.1.4.1).
	CodeAttributeRepeated Code = "attribute_repeated"
	// CodeAttributeTooLong (400): a certificate subject attribute is longer than BR §7.1.4.2 allows.
	CodeAttributeTooLong Code = "attribute_too_long"
	// CodeAttributeWhitespace (400): a certificate subject attribute has leading or trailing white space.
	CodeAttributeWhitespace Code = "attribute_whitespace"
	// CodeBadRequest (400): an MPIC perspective could not read the check request it was sent.
	CodeBadRequest Code = "bad_request"
	// CodeCommonNameNotInSAN (400): the certificate's commonName is not one of its dnsNames (BR §7.1.4.3).
	CodeCommonNameNotInSAN Code = "common_name_not_in_san"
	// CodeControlCharacter (400): a text field holds a control or invisible formatting character; a NUL, or text that is not valid UTF-8, anywhere in a request (path, query parameter, body or form field), naming where.
	CodeControlCharacter Code = "control_character"
	// CodeCSRNameNotRequested (400): the CSR names a DNS name that is not in the order's dnsNames.
	CodeCSRNameNotRequested Code = "csr_name_not_requested"
	// CodeDNFragment (400): a typed organization field carries another attribute of a distinguished name (e.g. "Acme, C=US").
	CodeDNFragment Code = "dn_fragment"
	// CodeDomainNotValidated (400): a dnsNames entry is not covered by a reusable domain validation of the account.
	CodeDomainNotValidated Code = "domain_not_validated"
	// CodeDoubleSpace (400): an organization field holds consecutive spaces.
	CodeDoubleSpace Code = "double_space"
	// CodeDuplicateDNSName (400): a DNS name appears twice in the certificate.
	CodeDuplicateDNSName Code = "duplicate_dns_name"
	// CodeECDSACurveUnsupported (400): the ECDSA public key is not on P-256 or P-384.
	CodeECDSACurveUnsupported Code = "ecdsa_curve_unsupported"
	// CodeECDSAPointInvalid (400): the ECDSA public key is not a valid point on its curve.
	CodeECDSAPointInvalid Code = "ecdsa_point_invalid"
	// CodeEmptySubject (400): the certificate subject has no attributes.
	CodeEmptySubject Code = "empty_subject"
	// CodeIdentityChange (400): a change request tries to amend organization identity, which changes only through a new verified version.
	CodeIdentityChange Code = "identity_change"
	// CodeInternalName (400): a domain is not under an ICANN public suffix.
	CodeInternalName Code = "internal_name"
	// CodeInvalidAttribute (400): a CA certificate subject carries an attribute its profile does not allow.
	CodeInvalidAttribute Code = "invalid_attribute"
	// CodeInvalidBody (400): the request body could not be read.
	CodeInvalidBody Code = "invalid_body"
	// CodeInvalidCategory (400): a problem report's category is not keyCompromise, misissuance or other.
	CodeInvalidCategory Code = "invalid_category"
	// CodeInvalidCertificate (400): a submitted certificate is not a PEM or DER X.509 certificate that parses.
	CodeInvalidCertificate Code = "invalid_certificate"
	// CodeInvalidChange (400): a restore change request names a field or value.
	CodeInvalidChange Code = "invalid_change"
	// CodeInvalidCharacter (400): a certificate subject field holds a control character.
	CodeInvalidCharacter Code = "invalid_character"
	// CodeInvalidCommonName (400): the CSR's commonName is not one of the order's dnsNames.
	CodeInvalidCommonName Code = "invalid_common_name"
	// CodeInvalidCompromiseAt (400): the key compromise time of a revocation is in the future, or the zero time (0001-01-01T00:00:00Z; leave `compromisedAt` out when the time is not known).
	CodeInvalidCompromiseAt Code = "invalid_compromise_at"
	// CodeInvalidCountry (400): countryName is not an upper-case, assigned ISO 3166-1 alpha-2 code (XX included).
	CodeInvalidCountry Code = "invalid_country"
	// CodeInvalidCSR (400): the CSR is not one PEM CERTIFICATE REQUEST of at most 64 KiB, does not parse, has a subject attribute that is not a string, or asks for IP, email or URI names.
	CodeInvalidCSR Code = "invalid_csr"
	// CodeInvalidCSRSignature (400): the CSR's signature does not verify with its own key (no proof of possession).
	CodeInvalidCSRSignature Code = "invalid_csr_signature"
	// CodeInvalidCursor (400): a list's after parameter is not the next cursor of a previous page.
	CodeInvalidCursor Code = "invalid_cursor"
	// CodeInvalidDecision (400): a problem report decision is not revoke (with a BR §4.9.1.1 trigger) or no_action (with a reason).
	CodeInvalidDecision Code = "invalid_decision"
	// CodeInvalidDNSName (400): a DNS name of the certificate is invalid.
	CodeInvalidDNSName Code = "invalid_dns_name"
	// CodeInvalidDomain (400): a domain is empty or has bad characters, a bad LDH label or a bad A-label.
	CodeInvalidDomain Code = "invalid_domain"
	// CodeInvalidEmail (400): an email address is not a plain address that mail can be sent to.
	CodeInvalidEmail Code = "invalid_email"
	// CodeInvalidEncoding (400): a certificate subject field is not valid UTF-8.
	CodeInvalidEncoding Code = "invalid_encoding"
	// CodeInvalidEvidence (400): a verification's evidence entry lacks source or reference, or is too long.
	CodeInvalidEvidence Code = "invalid_evidence"
	// CodeInvalidField (400): a revocation names compromisedAt for a reason other than keyCompromise.
	CodeInvalidField Code = "invalid_field"
	// CodeInvalidFileName (400): a website-change file name is empty, too long or has characters other than letters, digits, '-', '_' and '.'.
	CodeInvalidFileName Code = "invalid_file_name"
	// CodeInvalidJSON (400): the request body is empty, not JSON or not a JSON object.
	CodeInvalidJSON Code = "invalid_json"
	// CodeInvalidKey (400): the public key of the CSR cannot be hashed.
	CodeInvalidKey Code = "invalid_key"
	// CodeInvalidKeyType (400): a key type is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096.
	CodeInvalidKeyType Code = "invalid_key_type"
	// CodeInvalidKind (400): a change request's kind is neither restore nor amend.
	CodeInvalidKind Code = "invalid_kind"
	// CodeInvalidLimit (400): a list's limit parameter is not a number from 1 to the maximum page size.
	CodeInvalidLimit Code = "invalid_limit"
	// CodeInvalidName (400): a user name is not 1-64 characters of a-z, 0-9, '.', '_' or '-' starting with a letter or digit.
	CodeInvalidName Code = "invalid_name"
	// CodeInvalidNumber (400): an audit query's after or limit parameter is not a valid number.
	CodeInvalidNumber Code = "invalid_number"
	// CodeInvalidPhone (400): a contact's phone number has characters other than digits, spaces and + - ( ) . / or is too long.
	CodeInvalidPhone Code = "invalid_phone"
	// CodeInvalidPolicyOID (400): the CPS policy OID is not a dotted OID, or is reserved or anyPolicy.
	CodeInvalidPolicyOID Code = "invalid_policy_oid"
	// CodeInvalidPostalCode (400): postalCode has characters other than letters, digits, spaces and hyphens.
	CodeInvalidPostalCode Code = "invalid_postal_code"
	// CodeInvalidQuery (400): an incident names both serials and a query, or its query selects nothing, names an unknown field value or a lint with no stored scan findings.
	CodeInvalidQuery Code = "invalid_query"
	// CodeInvalidRandomValue (400): a domain validation random value is not base64url.
	CodeInvalidRandomValue Code = "invalid_random_value"
	// CodeInvalidRole (400): a role is not one of the staff or contact roles.
	CodeInvalidRole Code = "invalid_role"
	// CodeInvalidRoot (400): a root CA certificate would carry a CRL, AIA or policy (BR §7.1.2.1).
	CodeInvalidRoot Code = "invalid_root"
	// CodeInvalidSanctionsReview (400): sanctionsReview lacks a valid reference or decision, or its notes are too long.
	CodeInvalidSanctionsReview Code = "invalid_sanctions_review"
	// CodeInvalidSerial (400): a serial number is not in vetca's form (lower-case hex, no leading 00) or not a valid certificate serial.
	CodeInvalidSerial Code = "invalid_serial"
	// CodeInvalidSource (400): an incident's source is not self, third-party or audit.
	CodeInvalidSource Code = "invalid_source"
	// CodeInvalidSubdivision (400): stateOrProvinceName is not an ISO 3166-2 subdivision of the country, or the country has none.
	CodeInvalidSubdivision Code = "invalid_subdivision"
	// CodeInvalidTable (400): a change request names a table that is not audited.
	CodeInvalidTable Code = "invalid_table"
	// CodeInvalidText (400): an organization field is not valid UTF-8.
	CodeInvalidText Code = "invalid_text"
	// CodeInvalidTime (400): a time parameter or field is not an RFC 3339 time, or is in the future where it may not be.
	CodeInvalidTime Code = "invalid_time"
	// CodeInvalidTitle (400): an incident's title is empty, too long, has a control character or is not in the form "CA Name: short description".
	CodeInvalidTitle Code = "invalid_title"
	// CodeInvalidTrigger (400): a revocation trigger does not name an item of BR §4.9.1.1.
	CodeInvalidTrigger Code = "invalid_trigger"
	// CodeInvalidType (400): a JSON field has the wrong type.
	CodeInvalidType Code = "invalid_type"
	// CodeInvalidURL (400): a URL of the certificate profile is not an http:// URL with a host.
	CodeInvalidURL Code = "invalid_url"
	// CodeInvalidValidity (400): the validity period is empty or ends before it starts, or validityDays is below 1.
	CodeInvalidValidity Code = "invalid_validity"
	// CodeInvalidValue (400): a field or query parameter holds a value it does not take (e.g. a list's status filter that is not one of its statuses), a query value is not URL-encoded, or an amend change request's value is not JSON or not of the field's type.
	CodeInvalidValue Code = "invalid_value"
	// CodeInvalidVersion (400): a domain-validations query names a version that is not a method version.
	CodeInvalidVersion Code = "invalid_version"
	// CodeInvalidWhitespace (400): a certificate subject field has leading or trailing white space.
	CodeInvalidWhitespace Code = "invalid_whitespace"
	// CodeInvalidWindow (400): a query's until is not after its since.
	CodeInvalidWindow Code = "invalid_window"
	// CodeIPAddress (400): a domain is an IPv4 or IPv6 address.
	CodeIPAddress Code = "ip_address"
	// CodeIssuerCannotSign (400): the issuer certificate's key usage lacks keyCertSign.
	CodeIssuerCannotSign Code = "issuer_cannot_sign"
	// CodeIssuerNotCA (400): the issuer certificate is not a CA certificate.
	CodeIssuerNotCA Code = "issuer_not_ca"
	// CodeIssuerWithoutSKI (400): the issuer certificate has no subjectKeyIdentifier.
	CodeIssuerWithoutSKI Code = "issuer_without_ski"
	// CodeIssuerWithoutSubject (400): the issuer certificate has no subject.
	CodeIssuerWithoutSubject Code = "issuer_without_subject"
	// CodeKeyBlocked (400): the public key was reported compromised and may not be certified (BR §6.1.1.3(4)).
	CodeKeyBlocked Code = "key_blocked"
	// CodeKeyMismatch (400): a submitted private key is not the private half of the public key it encodes, or fails a signing test.
	CodeKeyMismatch Code = "key_mismatch"
	// CodeKeyTypeUnsupported (400): the public key is neither RSA nor ECDSA (e.g. Ed25519).
	CodeKeyTypeUnsupported Code = "key_type_unsupported"
	// CodeMissingAttribute (400): a subject attribute the certificate profile requires is absent.
	CodeMissingAttribute Code = "missing_attribute"
	// CodeMissingDNSNames (400): the certificate has no DNS name (BR §7.1.2.7.12).
	CodeMissingDNSNames Code = "missing_dns_names"
	// CodeMissingField (400): a required field or parameter is missing.
	CodeMissingField Code = "missing_field"
	// CodeMissingIssuer (400): no issuer certificate, or one without a public key, was given to sign with.
	CodeMissingIssuer Code = "missing_issuer"
	// CodeMissingKey (400): no public key was given to certify.
	CodeMissingKey Code = "missing_key"
	// CodeMissingRole (400): a user is added, or roles are granted, without any role.
	CodeMissingRole Code = "missing_role"
	// CodeMissingURL (400): a URL the certificate profile needs is not configured.
	CodeMissingURL Code = "missing_url"
	// CodeMultiValuedRDN (400): a certificate subject RDN holds more than one attribute.
	CodeMultiValuedRDN Code = "multi_valued_rdn"
	// CodeNameTooLong (400): a domain is over 253 octets or has a label over 63.
	CodeNameTooLong Code = "name_too_long"
	// CodeNoMatch (400): a key-compromise report's key or CSR is on no certificate and no issuance vetca knows.
	CodeNoMatch Code = "no_match"
	// CodeNoChange (400): a proposed organization version changes nothing, and the current identity is not yet due for re-verification (60 days before its BR §4.2.1 reuse period ends).
	CodeNoChange Code = "no_change"
	// CodeNotAmendable (400): a change request names a field that cannot be amended.
	CodeNotAmendable Code = "not_amendable"
	// CodePlaceholderValue (400): a field holds a placeholder (e.g. "Some-State", "N/A") instead of verified information.
	CodePlaceholderValue Code = "placeholder_value"
	// CodePublicSuffix (400): a domain, or a wildcard's base, is a public suffix.
	CodePublicSuffix Code = "public_suffix"
	// CodeReasonForbidden (400): the revocation reason may not be used for a TLS subscriber certificate (BR §7.2.2).
	CodeReasonForbidden Code = "reason_forbidden"
	// CodeReasonWithTrigger (400): a revocation names both a trigger and a reason.
	CodeReasonWithTrigger Code = "reason_with_trigger"
	// CodeRepeatedParameter (400): a query parameter is given more than once.
	CodeRepeatedParameter Code = "repeated_parameter"
	// CodeReservedName (400): a domain is a special-use or private-use name.
	CodeReservedName Code = "reserved_name"
	// CodeRSAClosePrimes (400): the RSA modulus factors by Fermat's method (close primes, BR §6.1.1.3(5)).
	CodeRSAClosePrimes Code = "rsa_close_primes"
	// CodeRSADebianWeak (400): the RSA key is a known Debian weak key (BR §6.1.1.3(5)), on a list given to `serve` with `--weak-keys`.
	CodeRSADebianWeak Code = "rsa_debian_weak"
	// CodeRSAExponentEven (400): the RSA public exponent is even (BR §6.1.6).
	CodeRSAExponentEven Code = "rsa_exponent_even"
	// CodeRSAExponentTooSmall (400): the RSA public exponent is below 65537.
	CodeRSAExponentTooSmall Code = "rsa_exponent_too_small"
	// CodeRSAKeySizeNotMultipleOf8 (400): the RSA modulus size is not a multiple of 8 bits (BR §6.1.5).
	CodeRSAKeySizeNotMultipleOf8 Code = "rsa_key_size_not_multiple_of_8"
	// CodeRSAKeyTooLarge (400): the RSA modulus is larger than vetca accepts.
	CodeRSAKeyTooLarge Code = "rsa_key_too_large"
	// CodeRSAKeyTooSmall (400): the RSA modulus is under 2048 bits (BR §6.1.5).
	CodeRSAKeyTooSmall Code = "rsa_key_too_small"
	// CodeRSAModulusEven (400): the RSA modulus is even (BR §6.1.6).
	CodeRSAModulusEven Code = "rsa_modulus_even"
	// CodeRSAModulusPrimePower (400): the RSA modulus is a prime power (BR §6.1.6).
	CodeRSAModulusPrimePower Code = "rsa_modulus_prime_power"
	// CodeRSAModulusSmallFactor (400): the RSA modulus has a factor below 752 (BR §6.1.6).
	CodeRSAModulusSmallFactor Code = "rsa_modulus_small_factor"
	// CodeRSAROCA (400): the RSA key has the ROCA fingerprint (BR §6.1.1.3(5)).
	CodeRSAROCA Code = "rsa_roca"
	// CodeSanctionsReviewRequired (400): the country is on the sanctions list and no sanctions review was recorded.
	CodeSanctionsReviewRequired Code = "sanctions_review_required"
	// CodeSubjectFieldNotAllowed (400): a contact request carries an organization subject field.
	CodeSubjectFieldNotAllowed Code = "subject_field_not_allowed"
	// CodeSubjectMismatch (400): a requested subject value differs from the verified organization's; vetted and requested are set.
	CodeSubjectMismatch Code = "subject_mismatch"
	// CodeSurroundingSpace (400): a text field has leading or trailing white space.
	CodeSurroundingSpace Code = "surrounding_space"
	// CodeTooLong (400): a text field is longer than allowed.
	CodeTooLong Code = "too_long"
	// CodeTooManyNames (400): an order has more dnsNames than a certificate may carry.
	CodeTooManyNames Code = "too_many_names"
	// CodeULabel (400): a domain has non-ASCII characters; give its A-label.
	CodeULabel Code = "u_label"
	// CodeUnknownField (400): the request body has a field that is not exactly one of the endpoint's field names.
	CodeUnknownField Code = "unknown_field"
	// CodeUnknownKind (400): an MPIC check request names an unknown kind of check.
	CodeUnknownKind Code = "unknown_kind"
	// CodeUnknownMethod (400): a domain validation method is not supported.
	CodeUnknownMethod Code = "unknown_method"
	// CodeUnknownOrganization (400): an account names an organization that does not exist.
	CodeUnknownOrganization Code = "unknown_organization"
	// CodeUnknownParameter (400): a query has a parameter the endpoint does not take.
	CodeUnknownParameter Code = "unknown_parameter"
	// CodeUnknownReason (400): the revocation reason is not an RFC 5280 CRLReason name.
	CodeUnknownReason Code = "unknown_reason"
	// CodeUnknownSerial (400): an incident names a serial that is not a certificate vetca stored.
	CodeUnknownSerial Code = "unknown_serial"
	// CodeUnsupportedIssuerKey (400): the issuer key is not ECDSA P-256/P-384 or RSA of at least 2048 bits.
	CodeUnsupportedIssuerKey Code = "unsupported_issuer_key"
	// CodeUnsupportedKey (400): the certificate profile does not accept the public key's type or curve.
	CodeUnsupportedKey Code = "unsupported_key"
	// CodeUnsupportedMediaType (400): the request body is sent with a Content-Type other than application/json.
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// CodeValidityTooLong (400): the validity period exceeds the BR maximum (BR §6.3.2, §7.1.2.1.1).
	CodeValidityTooLong Code = "validity_too_long"
	// CodeValueInRequest (400): a website-change file name contains the random value (BR §3.2.2.4.18).
	CodeValueInRequest Code = "value_in_request"
	// CodeWeakKey (400): the RSA key is too small, not a multiple of 8 bits, or has a bad public exponent.
	CodeWeakKey Code = "weak_key"
	// CodeWeakRandomValue (400): a domain validation random value is shorter than 112 bits of entropy allow (BR §1.6.1).
	CodeWeakRandomValue Code = "weak_random_value"
	// CodeWildcardRefused (400): a wildcard is malformed or not allowed here (e.g. for website-change validation).
	CodeWildcardRefused Code = "wildcard_refused"
)

// 401 Unauthorized: no or unknown credentials (KindUnauthenticated).
const (
	// CodeUnauthenticated (401): the token or console session is missing, unknown, revoked or expired, or its user is disabled or awaits approval.
	CodeUnauthenticated Code = "unauthenticated"
	// CodeEABBadMAC (401): the MAC of an External Account Binding does not verify with the key its kid names.
	CodeEABBadMAC Code = "eab_bad_mac"
	// CodeEABUnknownKid (401): an External Account Binding names a key id vetca never issued.
	CodeEABUnknownKid Code = "eab_unknown_kid"
)

// 403 Forbidden: authenticated, but not allowed (KindForbidden).
const (
	// CodeCAAForbidden (403): CAA forbids issuance for a name, a lookup failed, or the perspectives did not corroborate it.
	CodeCAAForbidden Code = "caa_forbidden"
	// CodeClientCertificateRequired (403): an MPIC perspective was called without a verified TLS client certificate.
	CodeClientCertificateRequired Code = "client_certificate_required"
	// CodeForbidden (403): the caller's role or account may not do this.
	CodeForbidden Code = "forbidden"
	// CodeIdentifierNotCovered (403): a requested DNS name is covered by no approved template of the account.
	CodeIdentifierNotCovered Code = "identifier_not_covered"
	// CodeKeyTypeNotAllowed (403): no approved template covering the names allows the requested key type.
	CodeKeyTypeNotAllowed Code = "key_type_not_allowed"
	// CodeOrganizationNotAllowed (403): the account may not order for the organization.
	CodeOrganizationNotAllowed Code = "organization_not_allowed"
	// CodeReasonCAOnly (403): a subscriber asks for a revocation reason only the CA may choose (privilegeWithdrawn).
	CodeReasonCAOnly Code = "reason_ca_only"
	// CodeSelfApproval (403): the caller requested, or acted for the requester of, what it tries to approve.
	CodeSelfApproval Code = "self_approval"
	// CodeSelfConfirmation (403): the caller proposed the problem report decision it tries to confirm; another compliance user must.
	CodeSelfConfirmation Code = "self_confirmation"
	// CodeSelfVerification (403): the caller proposed the organization version it tries to verify.
	CodeSelfVerification Code = "self_verification"
	// CodeValidityNotAllowed (403): the requested validity is longer than the approved templates covering the names allow.
	CodeValidityNotAllowed Code = "validity_not_allowed"
)

// 404 Not Found (KindNotFound).
const (
	// CodeNotFound (404): the object or endpoint does not exist, or is not visible to the caller.
	CodeNotFound Code = "not_found"
)

// 409 Conflict: the state does not allow it (KindConflict).
const (
	// CodeAlreadyApproved (409): the caller already approved this order, change request or template.
	CodeAlreadyApproved Code = "already_approved"
	// CodeAlreadyDecided (409): the problem report already has a decision, or one awaits confirmation.
	CodeAlreadyDecided Code = "already_decided"
	// CodeAlreadyFlagged (409): the domain validation method version is already flagged.
	CodeAlreadyFlagged Code = "already_flagged"
	// CodeAlreadyGranted (409): the user already holds the roles to grant.
	CodeAlreadyGranted Code = "already_granted"
	// CodeAlreadyIssued (409): the order was already issued.
	CodeAlreadyIssued Code = "already_issued"
	// CodeAlreadyLinked (409): the account already uses the organization.
	CodeAlreadyLinked Code = "already_linked"
	// CodeAlreadyRevoked (409): the certificate is already revoked and only keyCompromise may update the entry (BR §7.2.2).
	CodeAlreadyRevoked Code = "already_revoked"
	// CodeAlreadyVerified (409): the caller already verified this organization version.
	CodeAlreadyVerified Code = "already_verified"
	// CodeCaseClosed (409): the problem report is closed or merged into another case.
	CodeCaseClosed Code = "case_closed"
	// CodeEABKeyBound (409, 401): the External Account Binding key is already bound to an ACME account, or the ACME account to another key.
	CodeEABKeyBound Code = "eab_key_bound"
	// CodeEABKeyExpired (409, 401): the External Account Binding key was not used within 30 days of its creation.
	CodeEABKeyExpired Code = "eab_key_expired"
	// CodeEABKeyRevoked (409, 401): the External Account Binding key was revoked.
	CodeEABKeyRevoked Code = "eab_key_revoked"
	// CodeCAAStale (409): the CAA check of a name is older than BR §3.2.2.8 allows; check CAA again.
	CodeCAAStale Code = "caa_stale"
	// CodeConcurrentUpdate (409): another request changed the same record at the same moment, again and again; send the request again.
	CodeConcurrentUpdate Code = "concurrent_update"
	// CodeFinalizeInProgress (409): the order is already being finalized, possibly on another replica.
	CodeFinalizeInProgress Code = "finalize_in_progress"
	// CodeGrantPending (409): the user has a grant awaiting a second admin's approval; approve or decline it before asking for another.
	CodeGrantPending Code = "grant_pending"
	// CodeIssuanceAbandoned (409): the issuance was resolved as abandoned while it was signed; the serial is answered as revoked.
	CodeIssuanceAbandoned Code = "issuance_abandoned"
	// CodeNameTaken (409): a user with that name already exists.
	CodeNameTaken Code = "name_taken"
	// CodeNotPending (409): the change request is no longer pending.
	CodeNotPending Code = "not_pending"
	// CodeNotAwaitingConfirmation (409): the problem report has no decision awaiting confirmation.
	CodeNotAwaitingConfirmation Code = "not_awaiting_confirmation"
	// CodeNothingPending (409): the user has nothing awaiting approval.
	CodeNothingPending Code = "nothing_pending"
	// CodeOrderChanged (409): the order was rejected while its certificate was signed; the signed serial is answered as revoked.
	CodeOrderChanged Code = "order_changed"
	// CodeOrderNotApproved (409): the order lacks the independent approvals of its current snapshot, or is not approved.
	CodeOrderNotApproved Code = "order_not_approved"
	// CodeOrderNotPending (409): the order no longer awaits approval.
	CodeOrderNotPending Code = "order_not_pending"
	// CodeOrganizationNotVerified (409): the organization has no verified version yet.
	CodeOrganizationNotVerified Code = "organization_not_verified"
	// CodeRandomValueExpired (409): the random value of the domain validation is older than 30 days (BR §3.2.2.4.7); start a new validation.
	CodeRandomValueExpired Code = "random_value_expired"
	// CodeReverificationRequired (409): the organization's identity was verified longer ago than BR §4.2.1 allows reusing.
	CodeReverificationRequired Code = "reverification_required"
	// CodeRevocationOutstanding (409): certificates of the incident's affected set are still valid, with no delay recorded; revoke them first (BR §4.9.1.1).
	CodeRevocationOutstanding Code = "revocation_outstanding"
	// CodeSanctionsNotCleared (409): the organization's verified version is in a country on the sanctions list and has no approved sanctions review verified by a compliance verifier (a country added to the list since it was verified); propose it again with the review.
	CodeSanctionsNotCleared Code = "sanctions_not_cleared"
	// CodeSanctionsRejected (409): the version's sanctions review was rejected, so it cannot be verified.
	CodeSanctionsRejected Code = "sanctions_rejected"
	// CodeSnapshotMismatch (409): the order's snapshot changed since it was reviewed; its approvals are void.
	CodeSnapshotMismatch Code = "snapshot_mismatch"
	// CodeTemplateDisabled (409): the template was disabled; it can no longer be changed or approved.
	CodeTemplateDisabled Code = "template_disabled"
	// CodeTemplateMismatch (409): the template's hash changed since it was reviewed (it or its organization's verified version changed); its approvals are void.
	CodeTemplateMismatch Code = "template_mismatch"
	// CodeTemplateNotApproved (409): the template lacks the independent approvals of its current hash.
	CodeTemplateNotApproved Code = "template_not_approved"
	// CodeVersionNotPending (409): the organization version is not pending.
	CodeVersionNotPending Code = "version_not_pending"
)

// 413 Content Too Large (KindTooLarge).
const (
	// CodeBodyTooLarge (413): the request body is over 1 MiB.
	CodeBodyTooLarge Code = "body_too_large"
)

// 422 Unprocessable Content: understood, but refused by policy (KindUnprocessable).
const (
	// CodeLintFailed (422): the pre-issuance lint of the certificate failed; nothing was signed.
	CodeLintFailed Code = "lint_failed"
)

// 429 Too Many Requests: the client sent too many requests (KindTooManyRequests).
const (
	// CodeRateLimited (429): the client sent too many problem reports recently; Retry-After says when to try again.
	CodeRateLimited Code = "rate_limited"
)

// 500 Internal Server Error.
const (
	// CodeIntegrityViolation (500, 401): a stored row failed its audit check (edited, inserted or deleted outside vetca); 401 when it is the caller's token, session or user.
	CodeIntegrityViolation Code = "integrity_violation"
	// CodeInternal (500): an internal error, logged with the request id.
	CodeInternal Code = "internal"
)

// 503 Service Unavailable: a dependency is down or misconfigured (KindUnavailable).
const (
	// CodeCAAUnavailable (503): CAA cannot be checked because no issuer domain name is configured.
	CodeCAAUnavailable Code = "caa_unavailable"
	// CodeEABSecretUnavailable (503): this process has no installation EAB secret, or not the one the key was derived from.
	CodeEABSecretUnavailable Code = "eab_secret_unavailable"
	// CodeNoIssuer (503): there is no valid issuing CA.
	CodeNoIssuer Code = "no_issuer"
	// CodeSettingsMismatch (503): this replica's settings that reach certificates differ from the installation's.
	CodeSettingsMismatch Code = "settings_mismatch"
)

// all lists every code, in the order of this file.
var all = []Code{
	CodeAccountKey, CodeAttributeCharacter, CodeAttributeEmpty, CodeAttributeMissing, CodeAttributeNotAllowed,
	CodeAttributeNotVetted, CodeAttributeOrder, CodeAttributeRepeated, CodeAttributeTooLong,
	CodeAttributeWhitespace, CodeBadRequest, CodeCommonNameNotInSAN, CodeControlCharacter,
	CodeCSRNameNotRequested, CodeDNFragment, CodeDomainNotValidated, CodeDoubleSpace,
	CodeDuplicateDNSName, CodeECDSACurveUnsupported, CodeECDSAPointInvalid, CodeEmptySubject,
	CodeIdentityChange, CodeInternalName, CodeInvalidAttribute, CodeInvalidBody,
	CodeInvalidCategory, CodeInvalidCertificate, CodeInvalidChange, CodeInvalidCharacter, CodeInvalidCommonName, CodeInvalidCompromiseAt,
	CodeInvalidCountry, CodeInvalidCSR, CodeInvalidCSRSignature, CodeInvalidCursor,
	CodeInvalidDecision, CodeInvalidDNSName, CodeInvalidDomain, CodeInvalidEmail, CodeInvalidEncoding,
	CodeInvalidEvidence, CodeInvalidField, CodeInvalidFileName, CodeInvalidJSON,
	CodeInvalidKey, CodeInvalidKeyType, CodeInvalidKind, CodeInvalidLimit, CodeInvalidName,
	CodeInvalidNumber, CodeInvalidPhone, CodeInvalidPolicyOID, CodeInvalidPostalCode, CodeInvalidQuery,
	CodeInvalidRandomValue, CodeInvalidRole, CodeInvalidRoot, CodeInvalidSanctionsReview,
	CodeInvalidSerial, CodeInvalidSource, CodeInvalidSubdivision, CodeInvalidTable, CodeInvalidText,
	CodeInvalidTime, CodeInvalidTitle, CodeInvalidTrigger, CodeInvalidType, CodeInvalidURL,
	CodeInvalidValidity, CodeInvalidValue, CodeInvalidVersion, CodeInvalidWhitespace,
	CodeInvalidWindow, CodeIPAddress, CodeIssuerCannotSign, CodeIssuerNotCA,
	CodeIssuerWithoutSKI, CodeIssuerWithoutSubject, CodeKeyBlocked, CodeKeyMismatch, CodeKeyTypeUnsupported,
	CodeMissingAttribute, CodeMissingDNSNames, CodeMissingField, CodeMissingIssuer,
	CodeMissingKey, CodeMissingRole, CodeMissingURL, CodeMultiValuedRDN,
	CodeNameTooLong, CodeNoMatch, CodeNoChange, CodeNotAmendable, CodePlaceholderValue,
	CodePublicSuffix, CodeReasonForbidden, CodeReasonWithTrigger, CodeRepeatedParameter,
	CodeReservedName, CodeRSAClosePrimes, CodeRSADebianWeak, CodeRSAExponentEven,
	CodeRSAExponentTooSmall, CodeRSAKeySizeNotMultipleOf8, CodeRSAKeyTooLarge, CodeRSAKeyTooSmall,
	CodeRSAModulusEven, CodeRSAModulusPrimePower, CodeRSAModulusSmallFactor, CodeRSAROCA,
	CodeSanctionsReviewRequired, CodeSubjectFieldNotAllowed, CodeSubjectMismatch, CodeSurroundingSpace,
	CodeTooLong, CodeTooManyNames, CodeULabel, CodeUnknownField,
	CodeUnknownKind, CodeUnknownMethod, CodeUnknownOrganization, CodeUnknownParameter,
	CodeUnknownReason, CodeUnknownSerial, CodeUnsupportedIssuerKey, CodeUnsupportedKey, CodeUnsupportedMediaType,
	CodeValidityTooLong, CodeValueInRequest, CodeWeakKey, CodeWeakRandomValue,
	CodeWildcardRefused,

	CodeUnauthenticated, CodeEABBadMAC, CodeEABUnknownKid,

	CodeCAAForbidden, CodeClientCertificateRequired, CodeForbidden, CodeIdentifierNotCovered, CodeKeyTypeNotAllowed, CodeOrganizationNotAllowed,
	CodeReasonCAOnly, CodeSelfApproval, CodeSelfConfirmation, CodeSelfVerification, CodeValidityNotAllowed,

	CodeNotFound,

	CodeAlreadyApproved, CodeAlreadyDecided, CodeAlreadyFlagged, CodeAlreadyGranted, CodeAlreadyIssued, CodeAlreadyLinked,
	CodeAlreadyRevoked, CodeAlreadyVerified, CodeCaseClosed, CodeEABKeyBound, CodeEABKeyExpired, CodeEABKeyRevoked, CodeCAAStale, CodeConcurrentUpdate, CodeFinalizeInProgress,
	CodeGrantPending, CodeIssuanceAbandoned, CodeNameTaken, CodeNotPending, CodeNotAwaitingConfirmation, CodeNothingPending,
	CodeOrderChanged, CodeOrderNotApproved, CodeOrderNotPending, CodeOrganizationNotVerified,
	CodeRandomValueExpired, CodeReverificationRequired, CodeRevocationOutstanding, CodeSanctionsNotCleared, CodeSanctionsRejected, CodeSnapshotMismatch,
	CodeTemplateDisabled, CodeTemplateMismatch, CodeTemplateNotApproved,
	CodeVersionNotPending,

	CodeBodyTooLarge,

	CodeLintFailed,

	CodeRateLimited,

	CodeIntegrityViolation, CodeInternal,

	CodeCAAUnavailable, CodeEABSecretUnavailable, CodeNoIssuer, CodeSettingsMismatch,
}

var known = func() map[Code]bool {
	m := make(map[Code]bool, len(all))
	for _, c := range all {
		m[c] = true
	}
	return m
}()

// All returns every code, grouped by HTTP status as in this file.
func All() []Code { return append([]Code(nil), all...) }

// Known reports whether c is one of the declared codes.
func Known(c Code) bool { return known[c] }
