// Package telemed offers a region's telemedicine services (televisit,
// teleconsult, telemonitoring, teleassistance) and keeps the replicated
// catalogue through which any region reuses another region's services.
package telemed
