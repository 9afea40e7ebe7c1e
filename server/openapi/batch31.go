package openapi

// The batch endpoint (pgrest-only) is described in the 3.1 document only:
// the 2.0 one stays PostgREST's own, byte for byte.

const batchMediaType = "application/vnd.pgrest.batch+json"

// batchOperation is POST / with a list of operations run in one transaction.
func batchOperation() obj {
	str := obj{"type": "string"}
	op := obj{
		"type":     "object",
		"required": []string{"method", "path"},
		"properties": obj{
			"method": obj{"type": "string", "enum": []string{"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"}},
			"path":   obj{"type": "string", "description": "Path and query string; ${/k/pointer} stands for a value of an earlier result"},
			"headers": obj{"type": "object", "additionalProperties": str,
				"description": "Prefer, Accept, Accept-Profile, Content-Profile, Range, Content-Type"},
			"body": obj{"description": `The request body; {"$ref": "/k/pointer"} stands for a value of an earlier result`},
		},
		"additionalProperties": false,
	}
	result := obj{
		"type":     "object",
		"required": []string{"status", "headers", "body"},
		"properties": obj{
			"status":  obj{"type": "integer"},
			"headers": obj{"type": "object", "additionalProperties": str},
			"body":    obj{"description": "The body as a JSON value when it is JSON, else as a string; null when empty"},
		},
	}
	return obj{
		"tags":        []string{"Batch"},
		"summary":     "Run several operations in one transaction",
		"description": "Each operation answers as the same request alone; any error rolls back every operation and answers that error with its \"operation\" index.",
		"requestBody": obj{"required": true, "content": obj{
			batchMediaType: obj{"schema": obj{"type": "array", "minItems": 1, "items": op}},
		}},
		"responses": obj{"200": obj{"description": "Every operation succeeded", "content": obj{
			"application/json": obj{"schema": obj{"type": "array", "items": result}},
		}}},
	}
}
