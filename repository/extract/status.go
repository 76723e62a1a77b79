package extract

// CDA statusCode (ActStatus) to FHIR status, per resource. An entry with
// no statusCode in the event mood happened: final, completed.

func observationStatus(cda string, hasValue bool) string {
	switch cda {
	case "completed", "":
		return "final"
	case "active":
		if hasValue {
			return "preliminary"
		}
		return "registered"
	case "aborted", "cancelled":
		return "cancelled"
	case "nullified":
		return "entered-in-error"
	}
	return "unknown"
}

func reportStatus(cda string) string {
	switch cda {
	case "completed", "":
		return "final"
	case "active":
		return "partial"
	case "aborted", "cancelled":
		return "cancelled"
	case "nullified":
		return "entered-in-error"
	}
	return "unknown"
}

func procedureStatus(cda string) string {
	switch cda {
	case "completed", "":
		return "completed"
	case "active":
		return "in-progress"
	case "aborted":
		return "stopped"
	case "cancelled":
		return "not-done"
	case "suspended", "held":
		return "on-hold"
	case "nullified":
		return "entered-in-error"
	}
	return "unknown"
}

func statementStatus(cda string) string {
	switch cda {
	case "completed":
		return "completed"
	case "active":
		return "active"
	case "aborted":
		return "stopped"
	case "cancelled":
		return "not-taken"
	case "suspended", "held":
		return "on-hold"
	case "nullified":
		return "entered-in-error"
	}
	return "unknown"
}

func requestStatus(cda string) string {
	switch cda {
	case "active", "new":
		return "active"
	case "completed":
		return "completed"
	case "aborted":
		return "stopped"
	case "cancelled":
		return "cancelled"
	case "suspended", "held":
		return "on-hold"
	case "nullified":
		return "entered-in-error"
	}
	return "unknown"
}

func immunizationStatus(cda string) string {
	switch cda {
	case "cancelled", "aborted":
		return "not-done"
	case "nullified":
		return "entered-in-error"
	}
	return "completed"
}
