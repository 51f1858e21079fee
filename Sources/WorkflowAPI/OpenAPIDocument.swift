/// The OpenAPI 3.1 document served at `GET /api/openapi.json`. A test checks that its paths and
/// methods are exactly the router's routes.
enum OpenAPIDocument {
    static let json: String = #"""
        {
         "openapi": "3.1.0",
         "info": {
          "title": "bomflow",
          "version": "0.1.0",
          "description": "Workflow state of SBOM processing; Dependency-Track compatible."
         },
         "servers": [
          {
           "url": "/"
          }
         ],
         "security": [
          {
           "apiKey": []
          },
          {
           "bearer": []
          }
         ],
         "paths": {
          "/api/version": {
           "get": {
            "operationId": "getVersion",
            "security": [],
            "responses": {
             "200": {
              "description": "Application and version",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "properties": {
                  "application": {
                   "type": "string"
                  },
                  "version": {
                   "type": "string"
                  }
                 }
                }
               }
              }
             }
            }
           }
          },
          "/api/openapi.json": {
           "get": {
            "operationId": "getOpenAPI",
            "security": [],
            "responses": {
             "200": {
              "description": "This document",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/event/token/{uuid}": {
           "get": {
            "operationId": "isTokenBeingProcessed",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             }
            ],
            "responses": {
             "200": {
              "description": "Whether any step of the token is PENDING or TIMED_OUT (unknown token: false)",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "required": [
                  "processing"
                 ],
                 "properties": {
                  "processing": {
                   "type": "boolean"
                  }
                 },
                 "additionalProperties": false
                }
               }
              }
             },
             "400": {
              "description": "Invalid UUID (Dependency-Track's validation body)",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "type": "object",
                  "properties": {
                   "message": {
                    "type": "string"
                   },
                   "messageTemplate": {
                    "type": "string"
                   },
                   "path": {
                    "type": "string"
                   },
                   "invalidValue": {
                    "type": "string"
                   }
                  }
                 }
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/bom/token/{uuid}": {
           "get": {
            "operationId": "isBomTokenBeingProcessed",
            "deprecated": true,
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             }
            ],
            "responses": {
             "200": {
              "description": "Whether any step of the token is PENDING or TIMED_OUT (unknown token: false)",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "required": [
                  "processing"
                 ],
                 "properties": {
                  "processing": {
                   "type": "boolean"
                  }
                 },
                 "additionalProperties": false
                }
               }
              }
             },
             "400": {
              "description": "Invalid UUID (Dependency-Track's validation body)",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "type": "object",
                  "properties": {
                   "message": {
                    "type": "string"
                   },
                   "messageTemplate": {
                    "type": "string"
                   },
                   "path": {
                    "type": "string"
                   },
                   "invalidValue": {
                    "type": "string"
                   }
                  }
                 }
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/token/{uuid}/status": {
           "get": {
            "operationId": "getWorkflowStates",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             }
            ],
            "responses": {
             "200": {
              "description": "Steps in tree order",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "$ref": "#/components/schemas/WorkflowState"
                 }
                }
               }
              }
             },
             "400": {
              "description": "Invalid UUID (Dependency-Track's validation body)",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "type": "object",
                  "properties": {
                   "message": {
                    "type": "string"
                   },
                   "messageTemplate": {
                    "type": "string"
                   },
                   "path": {
                    "type": "string"
                   },
                   "invalidValue": {
                    "type": "string"
                   }
                  }
                 }
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Provided token … does not exist.",
              "content": {
               "text/plain": {
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/token/{uuid}": {
           "get": {
            "operationId": "getWorkflow",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             },
             {
              "name": "wait",
              "in": "query",
              "required": false,
              "description": "Watch: wait up to this many seconds for the version to exceed since",
              "schema": {
               "type": "number",
               "minimum": 0,
               "maximum": 60
              }
             },
             {
              "name": "since",
              "in": "query",
              "required": false,
              "description": "Watch: the version the client has",
              "schema": {
               "type": "integer",
               "minimum": 0
              }
             }
            ],
            "responses": {
             "200": {
              "description": "The workflow",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Workflow"
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           },
           "delete": {
            "operationId": "deleteWorkflow",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             }
            ],
            "responses": {
             "204": {
              "description": "Deleted"
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow": {
           "post": {
            "operationId": "createWorkflow",
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/CreateWorkflow"
               }
              }
             }
            },
            "responses": {
             "201": {
              "description": "Created",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Workflow"
                }
               }
              }
             },
             "200": {
              "description": "The same definition existed",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Workflow"
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "409": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           },
           "get": {
            "operationId": "listWorkflows",
            "parameters": [
             {
              "name": "label",
              "in": "query",
              "schema": {
               "type": "string",
               "pattern": "^[^:]+:.*$"
              }
             },
             {
              "name": "state",
              "in": "query",
              "schema": {
               "type": "string",
               "enum": [
                "processing",
                "done"
               ]
              }
             },
             {
              "name": "limit",
              "in": "query",
              "schema": {
               "type": "integer",
               "minimum": 1,
               "maximum": 1000
              }
             },
             {
              "name": "cursor",
              "in": "query",
              "schema": {
               "type": "string",
               "pattern": "^[0-9]+$"
              }
             }
            ],
            "responses": {
             "200": {
              "description": "A page, newest first",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "properties": {
                  "workflows": {
                   "type": "array",
                   "items": {
                    "$ref": "#/components/schemas/Workflow"
                   }
                  },
                  "nextCursor": {
                   "type": [
                    "string",
                    "null"
                   ]
                  }
                 }
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/steps": {
           "post": {
            "operationId": "updateSteps",
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "type": "object",
                "required": [
                 "updates"
                ],
                "additionalProperties": false,
                "properties": {
                 "updates": {
                  "type": "array",
                  "minItems": 1,
                  "maxItems": 1000,
                  "items": {
                   "$ref": "#/components/schemas/BatchItem"
                  }
                 }
                }
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "One result per item",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "properties": {
                  "results": {
                   "type": "array",
                   "items": {
                    "type": "object",
                    "properties": {
                     "status": {
                      "type": "integer"
                     },
                     "version": {
                      "type": "integer"
                     },
                     "type": {
                      "type": "string"
                     },
                     "detail": {
                      "type": "string"
                     }
                    }
                   }
                  }
                 }
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/token/{uuid}/steps": {
           "post": {
            "operationId": "addSteps",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "type": "object",
                "required": [
                 "steps"
                ],
                "additionalProperties": false,
                "properties": {
                 "steps": {
                  "type": "array",
                  "items": {
                   "$ref": "#/components/schemas/StepSpec"
                  },
                  "minItems": 1,
                  "maxItems": 64
                 }
                }
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The workflow",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Workflow"
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "409": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/token/{uuid}/step/{step}": {
           "patch": {
            "operationId": "updateStep",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             },
             {
              "name": "step",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
              }
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/StepUpdate"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The workflow after cascades",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Workflow"
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "409": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/token/{uuid}/step/{step}/progress": {
           "post": {
            "operationId": "recordProgress",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             },
             {
              "name": "step",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
              }
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                 "expected": {
                  "type": "integer",
                  "minimum": 0,
                  "maximum": 9007199254740991
                 },
                 "completed": {
                  "type": "integer",
                  "minimum": 0,
                  "maximum": 9007199254740991
                 },
                 "failed": {
                  "type": "integer",
                  "minimum": 0,
                  "maximum": 9007199254740991
                 },
                 "failureThreshold": {
                  "type": "number",
                  "minimum": 0,
                  "maximum": 1
                 },
                 "worker": {
                  "type": "string",
                  "minLength": 1,
                  "maxLength": 128
                 }
                },
                "minProperties": 1
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The workflow",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Workflow"
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "409": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/token/{uuid}/restart": {
           "post": {
            "operationId": "restartWorkflow",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "type": "object",
                "required": [
                 "step"
                ],
                "additionalProperties": false,
                "properties": {
                 "step": {
                  "type": "string",
                  "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
                 }
                }
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The workflow",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Workflow"
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "409": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/health": {
           "get": {
            "security": [],
            "responses": {
             "200": {
              "description": "UP",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Health"
                }
               }
              }
             },
             "503": {
              "description": "DOWN",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Health"
                }
               }
              }
             }
            },
            "operationId": "health"
           }
          },
          "/health/live": {
           "get": {
            "security": [],
            "responses": {
             "200": {
              "description": "UP",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Health"
                }
               }
              }
             },
             "503": {
              "description": "DOWN",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Health"
                }
               }
              }
             }
            },
            "operationId": "liveness"
           }
          },
          "/health/ready": {
           "get": {
            "security": [],
            "responses": {
             "200": {
              "description": "UP",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Health"
                }
               }
              }
             },
             "503": {
              "description": "DOWN",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Health"
                }
               }
              }
             }
            },
            "operationId": "readiness"
           }
          },
          "/metrics": {
           "get": {
            "operationId": "metrics",
            "security": [],
            "responses": {
             "200": {
              "description": "Prometheus text exposition",
              "content": {
               "text/plain": {
                "schema": {
                 "type": "string"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/claim": {
           "post": {
            "operationId": "claimSteps",
            "description": "Claims up to max ready steps of the named kinds (the longest-ready first) for a worker under a lease. With waitSeconds, waits until work is ready or the wait ends (then claims is empty).",
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "type": "object",
                "required": [
                 "steps",
                 "worker",
                 "leaseSeconds"
                ],
                "additionalProperties": false,
                "properties": {
                 "steps": {
                  "type": "array",
                  "minItems": 1,
                  "maxItems": 32,
                  "items": {
                   "type": "string",
                   "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
                  }
                 },
                 "worker": {
                  "type": "string",
                  "minLength": 1,
                  "maxLength": 128
                 },
                 "leaseSeconds": {
                  "type": "integer",
                  "minimum": 1,
                  "maximum": 3600
                 },
                 "max": {
                  "type": "integer",
                  "minimum": 1,
                  "maximum": 100
                 },
                 "waitSeconds": {
                  "type": "number",
                  "minimum": 0,
                  "maximum": 60
                 }
                }
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The steps claimed (possibly none)",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "required": [
                  "claims"
                 ],
                 "properties": {
                  "claims": {
                   "type": "array",
                   "items": {
                    "type": "object",
                    "required": [
                     "token",
                     "step",
                     "labels",
                     "attempt",
                     "leaseExpiresAt"
                    ],
                    "properties": {
                     "token": {
                      "type": "string",
                      "format": "uuid"
                     },
                     "step": {
                      "type": "string"
                     },
                     "labels": {
                      "type": "object",
                      "additionalProperties": {
                       "type": "string"
                      }
                     },
                     "attempt": {
                      "type": "integer",
                      "minimum": 1
                     },
                     "leaseExpiresAt": {
                      "type": "integer"
                     }
                    }
                   }
                  }
                 }
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "409": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          },
          "/api/v1/workflow/token/{uuid}/step/{step}/heartbeat": {
           "post": {
            "operationId": "heartbeat",
            "description": "Extends the lease of the worker holding the step.",
            "parameters": [
             {
              "name": "uuid",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             },
             {
              "name": "step",
              "in": "path",
              "required": true,
              "schema": {
               "type": "string",
               "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
              }
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "type": "object",
                "required": [
                 "leaseSeconds"
                ],
                "additionalProperties": false,
                "properties": {
                 "worker": {
                  "type": "string",
                  "minLength": 1,
                  "maxLength": 128
                 },
                 "leaseSeconds": {
                  "type": "integer",
                  "minimum": 1,
                  "maximum": 3600
                 }
                }
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The extended lease",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "required": [
                  "token",
                  "step",
                  "attempt",
                  "leaseExpiresAt"
                 ],
                 "properties": {
                  "token": {
                   "type": "string",
                   "format": "uuid"
                  },
                  "step": {
                   "type": "string"
                  },
                  "attempt": {
                   "type": "integer"
                  },
                  "leaseExpiresAt": {
                   "type": "integer"
                  }
                 }
                }
               }
              }
             },
             "400": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "401": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "403": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "404": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "409": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "429": {
              "description": "Too many invalid API keys from this address (Retry-After)",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "503": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             },
             "507": {
              "description": "Error",
              "content": {
               "application/problem+json": {
                "schema": {
                 "$ref": "#/components/schemas/Problem"
                }
               }
              }
             }
            }
           }
          }
         },
         "components": {
          "securitySchemes": {
           "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key"
           },
           "bearer": {
            "type": "http",
            "scheme": "bearer"
           }
          },
          "schemas": {
           "Problem": {
            "type": "object",
            "required": [
             "type",
             "title",
             "status",
             "detail"
            ],
            "properties": {
             "type": {
              "type": "string"
             },
             "title": {
              "type": "string"
             },
             "status": {
              "type": "integer"
             },
             "detail": {
              "type": "string"
             }
            }
           },
           "Health": {
            "type": "object",
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "UP",
               "DOWN"
              ]
             },
             "checks": {
              "type": "array",
              "items": {
               "type": "object"
              }
             }
            }
           },
           "WorkflowState": {
            "type": "object",
            "required": [
             "token",
             "step",
             "status",
             "updatedAt"
            ],
            "properties": {
             "token": {
              "type": "string",
              "format": "uuid"
             },
             "step": {
              "type": "string"
             },
             "status": {
              "type": "string",
              "enum": [
               "PENDING",
               "TIMED_OUT",
               "COMPLETED",
               "FAILED",
               "CANCELLED",
               "NOT_APPLICABLE"
              ]
             },
             "startedAt": {
              "type": "integer"
             },
             "updatedAt": {
              "type": "integer"
             },
             "failureReason": {
              "type": "string"
             }
            }
           },
           "StepSpec": {
            "type": "object",
            "required": [
             "step"
            ],
            "additionalProperties": false,
            "properties": {
             "step": {
              "type": "string",
              "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
             },
             "parent": {
              "type": "string",
              "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
             },
             "status": {
              "type": "string",
              "enum": [
               "PENDING",
               "NOT_APPLICABLE"
              ]
             }
            }
           },
           "CreateWorkflow": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "token": {
              "type": "string",
              "format": "uuid"
             },
             "template": {
              "type": "string",
              "enum": [
               "BOM_UPLOAD",
               "REANALYSIS",
               "PROJECT_CLONE",
               "POLICY_BUNDLE_SYNC"
              ]
             },
             "steps": {
              "type": "array",
              "maxItems": 64,
              "items": {
               "$ref": "#/components/schemas/StepSpec"
              }
             },
             "labels": {
              "type": "object",
              "maxProperties": 32,
              "propertyNames": {
               "minLength": 1,
               "maxLength": 64
              },
              "additionalProperties": {
               "type": "string",
               "maxLength": 64
              },
              "description": "At most 32 labels; keys 1 to 256 and values up to 256 UTF-8 bytes (the schema states 64 characters, which always fit)."
             }
            },
            "anyOf": [
             {
              "required": [
               "template"
              ]
             },
             {
              "required": [
               "steps"
              ],
              "properties": {
               "steps": {
                "minItems": 1
               }
              }
             }
            ]
           },
           "StepUpdate": {
            "oneOf": [
             {
              "type": "object",
              "required": [
               "status"
              ],
              "additionalProperties": false,
              "properties": {
               "status": {
                "type": "string",
                "enum": [
                 "COMPLETED",
                 "CANCELLED",
                 "NOT_APPLICABLE"
                ]
               },
               "worker": {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                "description": "The worker holding the step's claim (a claimed step refuses others unless the key is ADMIN)."
               }
              }
             },
             {
              "type": "object",
              "required": [
               "status",
               "failureReason"
              ],
              "additionalProperties": false,
              "properties": {
               "status": {
                "const": "FAILED"
               },
               "failureReason": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1024,
                "description": "At most 4,096 UTF-8 bytes; required with FAILED, refused with other statuses."
               },
               "worker": {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                "description": "The worker holding the step's claim (a claimed step refuses others unless the key is ADMIN)."
               }
              }
             },
             {
              "type": "object",
              "required": [
               "started"
              ],
              "additionalProperties": false,
              "properties": {
               "started": {
                "const": true
               },
               "worker": {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                "description": "The worker holding the step's claim (a claimed step refuses others unless the key is ADMIN)."
               }
              }
             }
            ]
           },
           "BatchItem": {
            "oneOf": [
             {
              "type": "object",
              "required": [
               "token",
               "step",
               "status"
              ],
              "additionalProperties": false,
              "properties": {
               "token": {
                "type": "string",
                "format": "uuid"
               },
               "step": {
                "type": "string",
                "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
               },
               "status": {
                "type": "string",
                "enum": [
                 "COMPLETED",
                 "CANCELLED",
                 "NOT_APPLICABLE"
                ]
               }
              }
             },
             {
              "type": "object",
              "required": [
               "token",
               "step",
               "status",
               "failureReason"
              ],
              "additionalProperties": false,
              "properties": {
               "token": {
                "type": "string",
                "format": "uuid"
               },
               "step": {
                "type": "string",
                "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
               },
               "status": {
                "const": "FAILED"
               },
               "failureReason": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1024,
                "description": "At most 4,096 UTF-8 bytes; required with FAILED, refused with other statuses."
               }
              }
             },
             {
              "type": "object",
              "required": [
               "token",
               "step",
               "started"
              ],
              "additionalProperties": false,
              "properties": {
               "token": {
                "type": "string",
                "format": "uuid"
               },
               "step": {
                "type": "string",
                "pattern": "^[A-Z][A-Z0-9_]{0,63}$"
               },
               "started": {
                "const": true
               }
              }
             }
            ]
           },
           "Workflow": {
            "type": "object",
            "required": [
             "token",
             "createdAt",
             "labels",
             "version",
             "processing",
             "steps"
            ],
            "properties": {
             "token": {
              "type": "string",
              "format": "uuid"
             },
             "createdAt": {
              "type": "integer"
             },
             "template": {
              "type": "string"
             },
             "createdBy": {
              "type": "string"
             },
             "labels": {
              "type": "object",
              "additionalProperties": {
               "type": "string"
              }
             },
             "version": {
              "type": "integer"
             },
             "processing": {
              "type": "boolean"
             },
             "steps": {
              "type": "array",
              "items": {
               "type": "object",
               "required": [
                "step",
                "status",
                "ready",
                "updatedAt"
               ],
               "properties": {
                "step": {
                 "type": "string"
                },
                "parent": {
                 "type": "string"
                },
                "status": {
                 "type": "string",
                 "enum": [
                  "PENDING",
                  "TIMED_OUT",
                  "COMPLETED",
                  "FAILED",
                  "CANCELLED",
                  "NOT_APPLICABLE"
                 ]
                },
                "ready": {
                 "type": "boolean"
                },
                "startedAt": {
                 "type": "integer"
                },
                "updatedAt": {
                 "type": "integer"
                },
                "failureReason": {
                 "type": "string"
                },
                "progress": {
                 "type": "object",
                 "properties": {
                  "expected": {
                   "type": "integer"
                  },
                  "completed": {
                   "type": "integer"
                  },
                  "failed": {
                   "type": "integer"
                  },
                  "failureThreshold": {
                   "type": "number"
                  }
                 }
                },
                "attempts": {
                 "type": "integer",
                 "minimum": 1
                },
                "claim": {
                 "type": "object",
                 "required": [
                  "worker",
                  "attempt",
                  "leaseExpiresAt"
                 ],
                 "properties": {
                  "worker": {
                   "type": "string"
                  },
                  "attempt": {
                   "type": "integer"
                  },
                  "leaseExpiresAt": {
                   "type": "integer"
                  }
                 }
                }
               }
              }
             }
            }
           }
          }
         }
        }
        """#
}
