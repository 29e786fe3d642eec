# netns host
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096           [::1]:85            [::]:*           
LISTEN     0      4096           [::1]:84            [::]:*           
LISTEN     0      4096           [::1]:86            [::]:*           
LISTEN     0      4096           [::1]:80            [::]:*           
LISTEN     0      4096           [::1]:83            [::]:*           
LISTEN     0      4096           [::1]:89            [::]:*           
LISTEN     0      4096           [::1]:90            [::]:*           
ESTAB      0      0              [::1]:80           [::1]:60954       
SYN-RECV   0      0              [::1]:89           [::1]:55180       
ESTAB      0      0              [::1]:86           [::1]:54522       
ESTAB      0      0              [::1]:60954        [::1]:80          
CLOSE-WAIT 0      0              [::1]:83           [::1]:56890       
TIME-WAIT  0      0              [::1]:57582        [::1]:85          
ESTAB      0      0              [::1]:55180        [::1]:89          
TIME-WAIT  0      0              [::1]:84           [::1]:49942       
LAST-ACK   0      1              [::1]:85           [::1]:57582       
FIN-WAIT-1 0      1              [::1]:54522        [::1]:86          
SYN-SENT   0      1              [::1]:44802        [::1]:88          
TIME-WAIT  0      0              [::1]:49928        [::1]:84          
FIN-WAIT-2 0      0              [::1]:56890        [::1]:83          
